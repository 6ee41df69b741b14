"""The application: the command line, the commands, the service with its operations endpoint
and metrics, logging and terminal output. May import everything.
"""
