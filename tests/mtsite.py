"""Pages and feeds shaped like The Moscow Times', for tests and benchmarks.

The structure follows the project's map of the site (shared/sources/moscowtimes.md): the head's
meta tags and four JSON-LD blocks (one of them invalid JSON), the article header, byline, featured
image, ``.article__block--<kind>`` body blocks with an ad banner injected into the second block,
related insets, tags, the donation box, and page furniture around the article ("Most read",
"Read more", newsletter and donation appeals). The markup is ours, written from that map.

Two layouts the map does not describe are INVENTED here, to test dated layouts and drift: the
``2026-11`` redesign (``Page.layout``; a new byline and lead image, see :func:`byline_2026` and
:func:`featured_2026`) and the page that matches no known layout (:func:`drift_document`).
No such redesign of the real site is known.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import Any

ORIGIN = "https://www.themoscowtimes.com"
STATIC = "https://static.themoscowtimes.com"
MONTHS = {
    1: "Jan.",
    2: "Feb.",
    3: "March",
    4: "April",
    5: "May",
    6: "June",
    7: "July",
    8: "Aug.",
    9: "Sep.",
    10: "Oct.",
    11: "Nov.",
    12: "Dec.",
}
FURNITURE = (
    "Support The Moscow Times!",
    "Sign up for our free weekly newsletter",
    "A Message from The Moscow Times",
    "Most read",
    "Read more",
)


@dataclass
class Page:
    """One article page. ``blocks`` are (kind, inner HTML) pairs in body order."""

    id: int
    date: str  # YYYY/MM/DD (Moscow date, in the URL)
    slug: str
    title: str
    published: str  # ISO with offset
    modified: str
    description: str
    kind: str = "news"
    subtitle: str = ""
    label: str | None = None
    authors: list[tuple[str, str | None]] = field(default_factory=list)  # (name, slug or None)
    updated_shown: bool = False
    image: tuple[str, str, str] | None = None  # (file, caption, credit)
    video: str | None = None
    blocks: list[tuple[str, str]] = field(default_factory=list)
    live_posts: list[tuple[str, str]] = field(default_factory=list)  # (date text, body html)
    tags: list[str] = field(default_factory=list)
    section: tuple[str, str] = ("News", "news")
    disclaimer: bool = False
    base_src: bool = False
    author_spans: bool = False
    layout: str = "2024"  # "2026-11": the invented redesign

    @property
    def path(self) -> str:
        return f"/{self.date}/{self.slug}-a{self.id}"

    @property
    def url(self) -> str:
        return ORIGIN + self.path


def visible_date(iso: str) -> str:
    when = datetime.fromisoformat(iso)
    return f"{MONTHS[when.month]} {when.day}, {when.year}"


def _ld(data: Any) -> str:
    text = json.dumps(data, ensure_ascii=False).replace("/", "\\/")
    return f'<script type="application/ld+json">{text}</script>'


def head(page: Page) -> str:
    first = page.authors[0][0] if page.authors else "The Moscow Times"
    og = f"{STATIC}/image/og/{hashlib.md5(page.slug.encode()).hexdigest()[:12]}.jpg"
    keywords = ",".join(t.lower() for t in page.tags)
    article_ld = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "mainEntityOfPage": {"@type": "WebPage", "@id": page.url},
        "headline": page.title,
        "description": page.description,
        "image": [og],
        "datePublished": page.published,
        "dateModified": page.modified,
        "keywords": keywords,
        "author": {"@type": "Person" if page.authors else "Organization", "name": first},
        "publisher": {
            "@type": "Organization",
            "name": "The Moscow Times",
            "logo": {"@type": "ImageObject", "url": f"{STATIC}/img/logo.png"},
        },
    }
    crumbs = {
        "@context": "https://schema.org",
        "@type": "BreadcrumbList",
        "itemListElement": [
            {"@type": "ListItem", "position": 1, "name": "Home", "item": ORIGIN},
            {
                "@type": "ListItem",
                "position": 2,
                "name": page.section[0],
                "item": f"{ORIGIN}/{page.section[1]}",
            },
            {"@type": "ListItem", "position": 3, "name": page.title, "item": page.url},
        ],
    }
    org = {
        "@context": "https://schema.org",
        "@type": "NewsMediaOrganization",
        "name": "The Moscow Times",
        "url": ORIGIN + "/",
    }
    # The site's WebSite block carries a trailing comma: invalid JSON, as served.
    website = (
        '<script type="application/ld+json">{"@context": "https:\\/\\/schema.org", '
        '"@type": "WebSite", "url": "https:\\/\\/www.themoscowtimes.com\\/", '
        '"potentialAction": {"@type": "SearchAction", '
        '"target": "https:\\/\\/www.themoscowtimes.com\\/search?q={q}", '
        '"query-input": "required name=q"},}</script>'
    )
    base = f'\t<base src="{ORIGIN}/">\n' if page.base_src else ""
    section_meta = "ukraine_war" if "ukraine" in keywords else "news"
    return f"""<head>
\t<meta charset="utf-8">
\t<meta http-equiv="X-UA-Compatible" content="IE=edge">
\t<meta name="viewport" content="width=device-width, initial-scale=1">
\t<title>{escape(page.title)} - The Moscow Times</title>
{base}\t<link rel="canonical" href="{page.url}">
\t<link rel="stylesheet" href="{STATIC}/css/app.css?v=2024">
\t<meta name="description" content="{escape(page.description)}">
\t<meta name="keywords" content="{escape(keywords)}">
\t<meta name="author" content="{escape(first)}">
\t<meta property="og:site_name" content="The Moscow Times">
\t<meta property="og:title" content="{escape(page.title)}">
\t<meta property="og:description" content="{escape(page.description)}">
\t<meta property="og:url" content="{page.url}">
\t<meta property="og:image" content="{og}">
\t<meta property="og:image:width" content="1200">
\t<meta property="og:image:height" content="630">
\t<meta property="article:published_time" content="{page.published}">
\t<meta property="article:modified_time" content="{page.modified}">
\t<meta property="article:author" content="{escape(first)}">
\t<meta property="article:section" content="{section_meta}">
\t<meta name="twitter:card" content="summary_large_image">
\t<meta name="twitter:site" content="@MoscowTimes">
\t<meta name="twitter:image" content="{og}">
\t{_ld(article_ld)}
\t{_ld(crumbs)}
\t{_ld(org)}
\t{website}
\t<script async src="https://www.googletagmanager.com/gtag/js?id=G-XXXX"></script>
</head>"""


def byline(page: Page) -> str:
    if not page.authors:
        names = ""
    else:
        links = []
        for name, slug in page.authors:
            if page.author_spans or slug is None:
                links.append(f'<span class="byline__author__name">{escape(name)}</span>')
            else:
                links.append(
                    f'<a href="{ORIGIN}/author/{slug}" class="byline__author__name" '
                    f'title="{escape(name)}">{escape(name)}</a>'
                )
        joined = links[0] if len(links) == 1 else ", ".join(links[:-1]) + " and " + links[-1]
        prefix = "" if page.kind == "podcast" else "By "
        names = f"""
\t\t\t\t<div class="byline__author">
\t\t\t\t\t{prefix}{joined}
\t\t\t\t</div>"""
    shown = page.modified if page.updated_shown else page.published
    updated = "Updated: " if page.updated_shown else ""
    return f"""
\t\t<div class="article__byline byline">
\t\t\t<div class="byline__details">{names}
\t\t\t\t<div class="byline__datetime">
\t\t\t\t\t{updated}<time class="byline__datetime timeago" datetime="{shown}">
\t\t\t\t\t\t{visible_date(shown)}
\t\t\t\t\t</time>
\t\t\t\t</div>
\t\t\t</div>
\t\t\t<div class="byline__social">
\t\t\t\t<a href="https://www.facebook.com/sharer/sharer.php?u={page.url}" class="social social--facebook" target="_blank">Share</a>
\t\t\t\t<a href="https://twitter.com/intent/tweet?url={page.url}" class="social social--twitter" target="_blank">Tweet</a>
\t\t\t</div>
\t\t</div>"""


def byline_2026(page: Page) -> str:
    """INVENTED (2026-11 redesign): authors in ``.article__authors``, publication and update
    each in its own ``time``."""
    authors = ""
    if page.authors:
        links = [
            f'<a href="{ORIGIN}/author/{slug}" class="article__author" rel="author">{escape(name)}</a>'
            if slug
            else f'<span class="article__author">{escape(name)}</span>'
            for name, slug in page.authors
        ]
        joined = links[0] if len(links) == 1 else ", ".join(links[:-1]) + " and " + links[-1]
        authors = f'\n\t\t\t<div class="article__authors">By {joined}</div>'
    updated = (
        f'\n\t\t\t\t<time class="article__updated" datetime="{page.modified}">Updated '
        f"{visible_date(page.modified)}</time>"
        if page.updated_shown
        else ""
    )
    return f"""
\t\t<div class="article__meta">{authors}
\t\t\t<div class="article__dates">
\t\t\t\t<time class="article__published" datetime="{page.published}">{visible_date(page.published)}</time>{updated}
\t\t\t</div>
\t\t\t<div class="article__share">
\t\t\t\t<a href="https://t.me/share/url?url={page.url}" class="article__share__link">Telegram</a>
\t\t\t</div>
\t\t</div>"""


def featured_2026(page: Page) -> str:
    """INVENTED (2026-11 redesign): a ``<picture>`` with WebP sources in ``figure.article__hero``;
    the credit inside the caption."""
    if page.image is None:
        return ""
    file, caption, credit = page.image
    stem = file.rsplit(".", 1)[0]
    return f"""
\t\t<figure class="article__hero">
\t\t\t<picture>
\t\t\t\t<source type="image/webp" srcset="{STATIC}/image/article_1360/{stem}.webp 1360w, {STATIC}/image/article_640/{stem}.webp 640w">
\t\t\t\t<img src="{STATIC}/image/article_1360/{file}" alt="{escape(caption)}" width="1360" height="765">
\t\t\t</picture>
\t\t\t<figcaption class="article__hero__caption">
\t\t\t\t{caption}
\t\t\t\t<span class="article__hero__credits">{credit}</span>
\t\t\t</figcaption>
\t\t</figure>"""


def featured(page: Page) -> str:
    if page.video:
        return f"""
\t\t<figure class="videoheader">
\t\t\t<iframe src="{page.video}" frameborder="0" allowfullscreen></iframe>
\t\t</figure>"""
    if page.image is None:
        return ""
    file, caption, credit = page.image
    return f"""
\t\t<figure class="article__featured-image featured-image">
\t\t\t<img src="{STATIC}/image/article_1360/{file}" />
\t\t\t<figcaption>
\t\t\t\t<span class="article__featured-image__caption featured-image__caption">
\t\t\t\t\t{caption}
\t\t\t\t</span>
\t\t\t\t<span class="article__featured-image__credits featured-image__credits">
\t\t\t\t\t{credit}
\t\t\t\t</span>
\t\t\t</figcaption>
\t\t</figure>"""


AD_BANNER = """
\t\t\t\t<section class="banner banner--article" data-banner="article_inline">
\t\t\t\t\t<div class="banner__label">Advertisement</div>
\t\t\t\t\t<div class="banner__content"><ins class="adsbygoogle" data-ad-slot="1234"></ins></div>
\t\t\t\t</section>"""


def related_block(title: str, href: str, label: str = "news") -> str:
    return f"""
\t\t\t\t<aside class="article__related-article related-article">
\t\t\t\t\t<span class="label related-article__label">{label}</span>
\t\t\t\t\t<a class="related-article__inner" href="{href}" title="{escape(title)}">
\t\t\t\t\t\t<h3 class="related-article__title">
\t\t\t\t\t\t\t{escape(title)}
\t\t\t\t\t\t</h3><span class="related-article__cta">Read more</span></a>
\t\t\t\t</aside>"""


def link_block(title: str, href: str, text: str) -> str:
    """A teaser link block with its description before its headline, both inside the link."""
    return f"""<a class="article__link" href="{href}">
\t\t\t\t\t<div class="article__link__text">{escape(text)}</div>
\t\t\t\t\t<h3 class="article__link__title">{escape(title)}</h3>
\t\t\t\t</a>"""


def content(page: Page) -> str:
    parts = []
    for index, (kind, inner) in enumerate(page.blocks):
        if index == 1 and kind == "html":
            inner = inner + AD_BANNER
        parts.append(
            f'\t\t\t<div class="article__block article__block--{kind}">\n\t\t\t\t{inner}\n\t\t\t</div>'
        )
    live = ""
    if page.live_posts:
        posts = "".join(
            f"""
\t\t\t\t<div class="live-post">
\t\t\t\t\t<div class="live-post__date">{when}</div>
\t\t\t\t\t<div class="live-post__body">{body}</div>
\t\t\t\t</div>"""
            for when, body in page.live_posts
        )
        live = f'\n\t\t\t<div class="live-posts">{posts}\n\t\t\t</div>'
    return "\n".join(parts) + live


def article(page: Page) -> str:
    label = (
        f'\n\t\t\t<span class="label article__label label--{page.kind}">{page.label}</span>'
        if page.label
        else ""
    )
    tags = ", ".join(
        f'<a class="tag article__tags__tag" href="{ORIGIN}/tag/{t.replace(" ", "-")}">{escape(t)}</a>'
        for t in page.tags
    )
    tags_div = f'\n\t\t\t<div class="article__tags">Read more about: {tags}</div>' if tags else ""
    disclaimer = (
        '\n\t\t<div class="article__disclaimer">The views expressed in opinion pieces do not '
        "necessarily reflect the position of The Moscow Times.</div>"
        if page.disclaimer
        else ""
    )
    if page.layout == "2026-11":
        top = byline_2026(page) + featured_2026(page)
    else:
        top = byline(page) + featured(page)
    return f"""<article class="article article--{page.kind}">
\t\t<header class="article__header">{label}
\t\t\t<h1><a href="{page.url}">{escape(page.title)}</a></h1>
\t\t\t<h2>{escape(page.subtitle)}</h2>
\t\t</header>{top}
\t\t<div class="article__content-container">
\t\t\t<div class="article__content">
{content(page)}
\t\t\t</div>{tags_div}
\t\t\t<div class="contribute-banner">
\t\t\t\t<h3>Support The Moscow Times!</h3>
\t\t\t\t<p>A Message from The Moscow Times: Dear readers, we are facing unprecedented
\t\t\t\tchallenges. Your support helps us keep independent journalism alive.</p>
\t\t\t\t<a href="{ORIGIN}/contribute" class="button">Contribute today</a>
\t\t\t</div>{disclaimer}
\t\t</div>
\t</article>"""


def teaser(title: str, href: str) -> str:
    return f"""
\t\t\t<li class="listed-article"><a href="{href}" title="{escape(title)}">
\t\t\t\t<h5 class="listed-article__title">{escape(title)}</h5>
\t\t\t\t<span class="listed-article__cta">Read more</span></a></li>"""


OTHER_TEASERS = [
    (
        "Russian Central Bank Holds Key Rate at 21%",
        "/2024/12/20/central-bank-holds-key-rate-a87400",
    ),
    (
        "Moscow Metro Opens Three New Stations",
        "/2024/12/25/moscow-metro-opens-three-stations-a87430",
    ),
    (
        "Kremlin Says Putin Has No Plans to Meet Trump Before Inauguration",
        "/2024/12/24/kremlin-putin-trump-a87420",
    ),
    (
        "Heavy Snowfall Paralyzes Traffic in St. Petersburg",
        "/2024/12/23/snowfall-st-petersburg-a87410",
    ),
]


def document(page: Page, padding: str = "") -> str:
    teasers = "".join(teaser(t, ORIGIN + h) for t, h in OTHER_TEASERS)
    return f"""<!DOCTYPE html>
<html lang="en">
{head(page)}
<body class="page page--article">
<header class="header">
\t<nav class="nav"><a href="{ORIGIN}/">The Moscow Times</a>
\t\t<a href="{ORIGIN}/news">News</a> <a href="{ORIGIN}/opinion">Opinion</a>
\t\t<a href="{ORIGIN}/business">Business</a> <a href="{ORIGIN}/arts-and-life">Arts and Life</a>
\t\t<a href="{ORIGIN}/contribute" class="nav__support">Support The Moscow Times!</a></nav>
</header>
<main class="container">
\t<div class="row"><div class="col-main">
\t{article(page)}
\t</div>
\t<aside class="col-side sidebar">
\t\t<section class="sidebar__section"><h3 class="sidebar__title">Most read</h3><ul>{teasers}
\t\t</ul></section>
\t\t<section class="sidebar__section"><h3 class="sidebar__title">Just in</h3><ul>{teasers}
\t\t</ul></section>
\t</aside></div>
\t<section class="cluster"><h3 class="cluster__title">Read more</h3><ul>{teasers}
\t</ul></section>
\t<div class="newsletter-box">
\t\t<h3>Sign up for our free weekly newsletter</h3>
\t\t<p>Our weekly newsletter contains a hand-picked selection of news, features, analysis and more.</p>
\t\t<form><input type="email" placeholder="Your email"><button>Subscribe</button></form>
\t</div>
</main>
<div class="modal contribute-modal">
\t<p>A Message from The Moscow Times: Dear readers, we are facing unprecedented challenges.
\tThe Russian Prosecutor General's Office has designated The Moscow Times as an "undesirable"
\torganization. Support The Moscow Times!</p>
</div>
<footer class="footer"><p>&copy; The Moscow Times, all rights reserved.</p></footer>{padding}
</body>
</html>
"""


def drift_document(page: Page) -> str:
    """INVENTED: a page in markup no layout of the profile knows (a redesign yet to come), with
    furniture around it: the profile must say it matched nothing. ``blocks`` are its
    paragraphs' inner HTML (kind ``paragraph``)."""
    paragraphs = "".join(
        f"\n\t\t\t<p>{inner}</p>" for kind, inner in page.blocks if kind == "paragraph"
    )
    names = " and ".join(escape(name) for name, _ in page.authors)
    return f"""<!DOCTYPE html>
<html lang="en">
{head(page)}
<body class="page page--story">
<header class="header">
\t<nav class="nav"><a href="{ORIGIN}/">The Moscow Times</a>
\t\t<a href="{ORIGIN}/contribute" class="nav__support">Support The Moscow Times!</a></nav>
</header>
<main class="story-page">
\t<div class="story" data-id="{page.id}">
\t\t<div class="story__head">
\t\t\t<h1 class="story__headline">{escape(page.title)}</h1>
\t\t\t<p class="story__by">{names} · <time datetime="{page.published}">{visible_date(page.published)}</time></p>
\t\t</div>
\t\t<div class="story__text">{paragraphs}
\t\t</div>
\t</div>
\t<section class="cluster"><h3 class="cluster__title">Read more</h3></section>
\t<div class="newsletter-box"><h3>Sign up for our free weekly newsletter</h3></div>
</main>
<footer class="footer"><p>&copy; The Moscow Times, all rights reserved.</p></footer>
</body>
</html>
"""


def feed_item(
    title: str,
    link: str,
    description: str,
    pub_date: str,
    *,
    full: str | None = None,
    category: str | None = None,
    enclosure: str | None = None,
) -> str:
    """An RSS item as the site writes it: tab padding, description wrapped in tabs/newlines."""
    if full is not None:
        desc = f"<![CDATA[{full}]]>"
    else:
        desc = f"\n\t\t\t\t\t\t\t\t{escape(description, quote=False)}\t\t\t"
    extra = ""
    if category:
        extra += f"\n\t\t\t<category>{escape(category)}</category>"
        extra += "\n\t\t\t<author>info@themoscowtimes.com</author>"
    if enclosure:
        extra += f'\n\t\t\t<enclosure url="{enclosure}" length="0" type="image/jpeg"/>'
    return f"""
\t\t<item>
\t\t\t<title>{escape(title, quote=False)}</title>
\t\t\t<link>{link}</link>
\t\t\t<description>{desc}</description>
\t\t\t<pubDate>{pub_date}</pubDate>
\t\t\t<guid>{link}</guid>{extra}
\t\t</item>"""


def rss(title: str, link: str, items: list[str]) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">
\t<channel>
\t\t<title>{escape(title)}</title>
\t\t<link>{link}</link>
\t\t<description>The Moscow Times - Independent News from Russia</description>
\t\t<language>en-us</language>
\t\t<ttl>600</ttl>{"".join(items)}
\t</channel>
</rss>
"""


def rfc2822(iso: str) -> str:
    when = datetime.fromisoformat(iso)
    offset = when.strftime("%z")
    return when.strftime("%a, %d %b %Y %H:%M:%S ") + offset


_WORDS = [
    "the",
    "of",
    "and",
    "to",
    "in",
    "a",
    "is",
    "that",
    "for",
    "on",
    "with",
    "as",
    "was",
    "by",
    "at",
    "from",
    "said",
    "it",
    "an",
    "be",
    "are",
    "have",
    "has",
    "this",
    "which",
    "government",
    "ministry",
    "kremlin",
    "moscow",
    "russia",
    "ukraine",
    "war",
    "troops",
    "officials",
    "president",
    "minister",
    "court",
    "sanctions",
    "economy",
    "ruble",
    "oil",
    "gas",
    "prices",
    "inflation",
    "bank",
    "region",
    "governor",
    "police",
    "authorities",
    "reported",
    "according",
    "statement",
    "interview",
    "week",
    "month",
    "year",
    "people",
    "city",
    "village",
    "border",
    "attack",
    "drone",
    "missile",
    "defense",
    "military",
    "soldiers",
    "prisoners",
    "talks",
    "negotiations",
    "europe",
    "united",
    "states",
    "china",
    "kazakhstan",
    "belarus",
    "georgia",
    "armenia",
    "azerbaijan",
    "election",
    "parliament",
    "duma",
    "law",
    "bill",
    "opposition",
    "activist",
    "journalist",
    "media",
    "television",
    "newspaper",
    "independent",
    "foreign",
    "agent",
    "undesirable",
    "organization",
    "arrested",
    "sentenced",
    "years",
    "prison",
    "charges",
    "investigation",
    "company",
    "companies",
    "market",
    "exports",
    "imports",
    "budget",
    "spending",
]


def _sentence(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(rng.randint(low, high))).capitalize() + "."


def _padding(rng: random.Random, size: int) -> str:
    """Page weight that is not the article, as real pages carry it: a mega-menu of teasers, an
    inline SVG sprite and a script with the site's JSON state."""
    parts = ['\n<nav class="mega-menu" hidden><ul>']
    used = 0
    while used < size * 0.45:
        title = _sentence(rng, 6, 12)
        item = (
            f'<li class="teaser"><a href="{ORIGIN}/2024/12/{rng.randint(1, 28):02d}/'
            f'{"-".join(title.lower().split()[:6]).strip(".")}-a{rng.randint(80000, 89999)}">'
            f'<img src="{STATIC}/image/320/{rng.randint(0, 99):02d}/t.jpg" alt="">'
            f'<span class="teaser__title">{title}</span></a></li>'
        )
        parts.append(item)
        used += len(item)
    parts.append('</ul></nav>\n<svg style="display:none">')
    while used < size * 0.7:
        path = " ".join(f"L{rng.randint(0, 999)} {rng.randint(0, 999)}" for _ in range(40))
        item = f'<symbol id="i{used}" viewBox="0 0 1000 1000"><path d="M0 0 {path}Z"/></symbol>'
        parts.append(item)
        used += len(item)
    state = {
        "config": {
            "ads": [
                {
                    "slot": f"slot-{i}",
                    "sizes": [[300, 250], [728, 90]],
                    "targeting": {"section": rng.choice(_WORDS)},
                }
                for i in range(40)
            ]
        },
        "strings": [_sentence(rng, 4, 10) for _ in range(max(1, int((size - used) / 70)))],
    }
    parts.append(f"</svg>\n<script>window.__STATE__ = {json.dumps(state)};</script>")
    return "".join(parts)


def synthetic_page(article_id: int, rng: random.Random) -> Page:
    """A Moscow Times-shaped article with varied text: 8 to 25 paragraphs, a subheading, a
    related inset."""
    day = 1 + article_id % 28
    title = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(6, 12))).title()
    paragraphs = [f"<p>{_sentence(rng, 25, 70)}</p>" for _ in range(rng.randint(8, 25))]
    half = len(paragraphs) // 2
    blocks: list[tuple[str, str]] = [
        ("html", "\n\t\t\t\t".join(paragraphs[:3])),
        ("html", "\n\t\t\t\t".join(paragraphs[3:half])),
        (
            "article",
            related_block("Related: " + title[:40], f"{ORIGIN}/2024/12/01/related-{article_id}"),
        ),
        ("header", f"<h2>{rng.choice(_WORDS).title()} {rng.choice(_WORDS)}</h2>"),
        ("html", "\n\t\t\t\t".join(paragraphs[half:])),
    ]
    return Page(
        id=article_id,
        date=f"2024/12/{day:02d}",
        slug="-".join(title.lower().split()[:8]),
        title=title,
        published=f"2024-12-{day:02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00+03:00",
        modified=f"2024-12-{day:02d}T23:59:00+03:00",
        description=_sentence(rng, 15, 25),
        authors=[(rng.choice(["AFP", "Reuters", "Anna Petrova", "Mikko Virtanen"]), "author")],
        image=(
            f"{article_id % 97:02x}/{article_id % 89:02x}/photo{article_id}.jpg",
            "A caption.",
            "AFP",
        ),
        blocks=blocks,
        tags=[rng.choice(_WORDS).title() for _ in range(3)],
    )


def synthetic_site(
    feeds: int,
    per_feed: int,
    *,
    seed: int = 1,
    target_bytes: int = 120_000,
    first_id: int = 100_000,
) -> dict[str, bytes]:
    """A deterministic mirror: ``/rss/feed<N>`` feeds of ``per_feed`` items and their pages."""
    rng = random.Random(seed)
    files: dict[str, bytes] = {"/robots.txt": b"User-agent: *\nDisallow: /preview/\n"}
    for feed in range(feeds):
        items = []
        for n in range(per_feed):
            page = synthetic_page(first_id + feed * per_feed + n, rng)
            html = document(page)
            html = document(
                page,
                _padding(
                    rng,
                    max(
                        0,
                        rng.randint(int(target_bytes * 0.85), int(target_bytes * 1.2)) - len(html),
                    ),
                ),
            )
            files[page.path] = html.encode()
            items.append(feed_item(page.title, page.url, page.description, rfc2822(page.published)))
        files[f"/rss/feed{feed}"] = rss(f"Feed {feed}", ORIGIN, items).encode()
    return files
