"""The redirect after a form: its notice goes before the fragment."""

from paperfeed.web.responses import redirect


def test_the_notice_goes_before_the_fragment() -> None:
    assert redirect("/c/ada/x#item-1", "saved").headers["location"] == "/c/ada/x?done=saved#item-1"
    assert (
        redirect("/c?page=2#feeds", "secret").headers["location"] == "/c?page=2&done=secret#feeds"
    )
    assert redirect("/c", None).headers["location"] == "/c"
