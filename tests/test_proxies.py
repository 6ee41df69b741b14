"""Proxies: which one a request takes (the usual meaning of HTTP_PROXY, HTTPS_PROXY and
NO_PROXY, ``http.proxy``, a source's ``proxy``), and a real forward proxy on 127.0.0.1 seeing
what it should: absolute-URI requests for http, CONNECT for https, nothing for NO_PROXY hosts,
and the address guard applied to the target, not to the proxy."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from proxysrv import ForwardProxy
from test_transport import _tls, fetcher, keep_answering, outcome, serve

from conftest import MT_FEEDS, Cli, records, write_config
from sitesrv import SiteServer
from worker.config import from_mapping
from worker.errors import PermanentFetchError
from worker.net.proxies import Proxies


def _proxies(env: dict[str, str], **http: Any) -> Proxies:
    settings = from_mapping({"http": http}, env=env)
    return Proxies(settings.http)


@pytest.mark.parametrize(
    ("env", "http", "url", "source", "expected"),
    [
        ({}, {}, "https://news.example/a", None, None),
        ({"HTTP_PROXY": "http://p:1"}, {}, "http://news.example/a", None, "http://p:1"),
        ({"HTTP_PROXY": "http://p:1"}, {}, "https://news.example/a", None, None),
        ({"https_proxy": "http://s:2"}, {}, "https://news.example/a", None, "http://s:2"),
        (
            {"HTTPS_PROXY": "http://s:2"},
            {"proxy": "http://c:3"},
            "https://x.example/",
            None,
            "http://c:3",
        ),
        ({"HTTPS_PROXY": "http://s:2"}, {"proxy": "direct"}, "https://x.example/", None, None),
        ({}, {"proxy": "http://c:3"}, "https://x.example/", "http://own:4", "http://own:4"),
        (
            {"HTTPS_PROXY": "http://s:2", "NO_PROXY": "example.org"},
            {},
            "https://news.example.org/",
            None,
            None,
        ),
        (
            {"HTTPS_PROXY": "http://s:2", "NO_PROXY": ".example.org"},
            {},
            "https://example.org/",
            None,
            None,
        ),
        (
            {"HTTPS_PROXY": "http://s:2", "NO_PROXY": "example.org"},
            {},
            "https://badexample.org/",
            None,
            "http://s:2",
        ),
        ({"HTTPS_PROXY": "http://s:2", "NO_PROXY": "*"}, {}, "https://any.example/", None, None),
        (
            {"HTTPS_PROXY": "http://s:2"},
            {"no_proxy": ["xn--bcher-kva.example"]},
            "https://bücher.example/",
            None,
            None,
        ),
        (
            {"HTTPS_PROXY": "http://s:2"},
            {"no_proxy": ["bücher.example"]},
            "https://xn--bcher-kva.example/",
            None,
            None,
        ),
        (
            {},
            {"proxy": "http://c:3", "no_proxy": ["intra.example"]},
            "http://intra.example:8080/",
            "http://own:4",
            None,
        ),
    ],
)
def test_the_proxy_a_request_takes(
    env: dict[str, str], http: dict[str, Any], url: str, source: str | None, expected: str | None
) -> None:
    assert _proxies(env, **http).for_url(url, source) == expected


def test_a_proxy_url_that_is_not_one_is_a_config_error_that_hides_its_password() -> None:
    with pytest.raises(Exception, match=r"http\.proxy: expected a proxy URL") as raised:
        from_mapping({"http": {"proxy": "socks5://user:secret@p:1080"}}, env={})
    assert "secret" not in str(raised.value)
    with pytest.raises(Exception, match="HTTPS_PROXY"):
        from_mapping({}, env={"HTTPS_PROXY": "not a url"})


def test_http_goes_through_the_proxy_and_no_proxy_hosts_do_not() -> None:
    async def scenario() -> None:
        async with serve(keep_answering) as origin:
            with ForwardProxy() as proxy:
                async with fetcher(proxy=proxy.url, no_proxy=("localhost",)) as f:
                    via = await f.get(f"http://127.0.0.1:{origin.port}/via")
                    direct = await f.get(f"http://localhost:{origin.port}/direct")
        assert via.body.endswith(b"/via") and direct.body.endswith(b"/direct")
        assert [(a.method, a.target) for a in proxy.log] == [
            ("GET", f"http://127.0.0.1:{origin.port}/via")
        ]

    asyncio.run(scenario())


def test_proxy_credentials_in_the_url_are_sent() -> None:
    async def scenario() -> None:
        async with serve(keep_answering) as origin:
            with ForwardProxy(user="worker", password="s3cret") as proxy:
                async with fetcher(proxy=proxy.url) as f:
                    response = await f.get(f"http://127.0.0.1:{origin.port}/a")
        assert response.status == 200
        assert proxy.log[0].authorization == "Basic d29ya2VyOnMzY3JldA=="

    asyncio.run(scenario())


def test_https_goes_through_a_connect_tunnel_and_is_verified_end_to_end(tmp_path: Path) -> None:
    server_tls, bundle = _tls(tmp_path, "127.0.0.1")

    async def scenario() -> None:
        async with serve(keep_answering, tls=server_tls) as origin:
            with ForwardProxy() as proxy:
                async with fetcher(proxy=proxy.url, ca_bundle=bundle) as f:
                    response = await f.get(f"https://127.0.0.1:{origin.port}/secure")
                async with fetcher(proxy=proxy.url) as f:  # the public authorities only
                    refused = await outcome(f, f"https://127.0.0.1:{origin.port}/secure")
        assert response.body == b"conn 1 req 1 /secure"
        assert (proxy.log[0].method, proxy.log[0].target) == (
            "CONNECT",
            f"127.0.0.1:{origin.port}",
        )
        assert isinstance(refused, PermanentFetchError) and refused.reason == "tls_error"

    asyncio.run(scenario())


def test_the_guard_applies_to_the_target_not_to_the_proxy() -> None:
    async def resolve(host: str, port: int) -> list[str]:
        return ["10.0.0.8"]

    async def scenario() -> None:
        async with serve(keep_answering) as origin:
            with ForwardProxy() as proxy:  # on loopback, and allowed as the proxy
                async with fetcher(
                    resolve,
                    proxy=proxy.url,
                    allow_private_addresses=False,
                    allow_networks=("127.0.0.1/32",),
                ) as f:
                    allowed = await f.get(f"http://127.0.0.1:{origin.port}/ok")
                    refused = await outcome(f, "http://intranet.example/admin")
        assert allowed.status == 200
        assert isinstance(refused, PermanentFetchError) and refused.reason == "private_address"
        assert [a.target for a in proxy.log] == [f"http://127.0.0.1:{origin.port}/ok"]

    asyncio.run(scenario())


def test_a_fetch_with_http_proxy_set_sends_every_request_through_it(
    cli: Cli, tmp_path: Path, server: SiteServer, archive_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(
        tmp_path / "c.toml", feeds=[server.url(f) for f in MT_FEEDS], archive=archive_dir
    )
    with ForwardProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        code, out, err = cli("fetch", "--config", str(config))
    assert code == 0, err
    assert len(records(archive_dir)) == 10
    sent = [r.path for r in server.site.requests()]
    assert sorted(a.target for a in proxy.log) == sorted(server.url(p) for p in sent)
    assert json.loads(out.splitlines()[-1])["exit_code"] == 0


def test_a_sources_own_proxy_is_used_for_its_requests(
    cli: Cli, tmp_path: Path, server: SiteServer, archive_dir: Path
) -> None:
    with ForwardProxy() as proxy:
        config = write_config(
            tmp_path / "c.toml",
            feeds=[server.url("/rss/news")],
            archive=archive_dir,
            extra_sources=f'proxy = "{proxy.url}"',
        )
        code, _, err = cli("fetch", "--config", str(config))
    assert code == 0, err
    assert {a.target for a in proxy.log} >= {server.url("/rss/news"), server.url("/robots.txt")}
    assert len(proxy.log) == len(server.site.requests())
