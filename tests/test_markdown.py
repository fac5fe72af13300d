"""markdown_safe: model outputs and annotator text are untrusted; only safe HTML comes out."""

import re

from django.utils.safestring import SafeString

from annotation.templatetags.agora import markdown_safe


def test_it_returns_a_safe_string():
    assert isinstance(markdown_safe("hi"), SafeString)


def test_it_renders_empty_or_missing_text_as_nothing():
    assert markdown_safe("") == ""
    assert markdown_safe(None) == ""


def test_a_script_tag_is_escaped():
    html = markdown_safe("Hello <script>alert(1)</script> world")

    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_a_script_block_on_its_own_line_is_escaped():
    html = markdown_safe("<script>\nalert(1)\n</script>")

    assert "<script" not in html
    assert "&lt;script&gt;" in html


def test_an_img_with_onerror_is_not_rendered_as_an_img_tag():
    html = markdown_safe("<img src=x onerror=alert(1)>")

    assert "<img" not in html
    assert "&lt;img" in html


def test_a_markdown_image_is_not_rendered_as_an_img_tag():
    html = markdown_safe("![x](http://example.com/x.png)")

    assert "<img" not in html


def test_a_javascript_link_loses_its_href():
    html = markdown_safe("[x](javascript:alert(1))")

    assert "href" not in html
    assert not re.search(r"<a\b", html)
    assert html.startswith("<p>")  # shown as plain text instead


def test_a_disguised_javascript_link_loses_its_href():
    disguised = (
        "[x](JaVaScRiPt:alert(1))",
        "[x](java&#115;cript:alert(1))",
        "<javascript:alert(1)>",
    )
    for text in disguised:
        html = markdown_safe(text)

        assert "href" not in html, text


def test_an_event_handler_attribute_never_survives():
    html = markdown_safe('<a href="http://example.com" onclick="alert(1)">x</a>')

    assert not re.search(r"<a[^>]*onclick", html)


def test_a_fenced_code_block_keeps_its_newlines():
    html = markdown_safe("```python\ndef f():\n    return 1\n```")

    match = re.search(r"<pre><code[^>]*>(.*?)</code></pre>", html, re.S)
    assert match, html
    assert match.group(1) == "def f():\n    return 1\n"


def test_code_in_a_fenced_block_is_escaped():
    html = markdown_safe("```\n<script>alert(1)</script>\n```")

    assert "<script" not in html
    assert "<pre><code>&lt;script&gt;alert(1)&lt;/script&gt;\n</code></pre>" in html


def test_bold_becomes_strong():
    assert "<strong>bold</strong>" in markdown_safe("some **bold** text")


def test_emphasis_lists_and_inline_code_render():
    html = markdown_safe("*it*\n\n- one\n- two\n\nuse `x = 1`")

    assert "<em>it</em>" in html
    assert "<li>one</li>" in html
    assert "<code>x = 1</code>" in html


def test_links_get_rel_noopener_noreferrer_nofollow():
    html = markdown_safe("[site](https://example.com)")

    assert 'href="https://example.com"' in html
    assert 'rel="noopener noreferrer nofollow"' in html


def test_a_mailto_link_keeps_its_href():
    html = markdown_safe("[me](mailto:me@example.com)")

    assert 'href="mailto:me@example.com"' in html


def test_tables_render():
    html = markdown_safe("| a | b |\n|---|---|\n| 1 | 2 |")

    assert "<table>" in html
    assert "<td>1</td>" in html
