"""pr's pure parts: which web page a remote has, compare URLs, default title and body."""

from __future__ import annotations

import pytest

from kodama.git.pr import compare_url, title_and_body, web_repo


@pytest.mark.parametrize(
    ("remote", "expected"),
    [
        ("https://github.com/acme/widget.git", ("github", "https://github.com/acme/widget")),
        ("git@github.com:acme/widget.git", ("github", "https://github.com/acme/widget")),
        ("ssh://git@github.com/acme/widget", ("github", "https://github.com/acme/widget")),
        ("https://alice@gitlab.com/g/sub/proj.git", ("gitlab", "https://gitlab.com/g/sub/proj")),
        ("git@gitlab.example.com:team/app.git", ("gitlab", "https://gitlab.example.com/team/app")),
        ("https://bitbucket.org/acme/widget.git", None),
        ("/srv/git/widget.git", None),
        ("file:///srv/git/widget.git", None),
    ],
)
def test_web_repo(remote: str, expected: tuple[str, str] | None) -> None:
    assert web_repo(remote) == expected


def test_compare_urls() -> None:
    assert (
        compare_url("github", "https://github.com/a/b", "main", "kodama/fix")
        == "https://github.com/a/b/compare/main...kodama/fix?expand=1"
    )
    assert compare_url("gitlab", "https://gitlab.com/a/b", "main", "kodama/fix") == (
        "https://gitlab.com/a/b/-/merge_requests/new?merge_request%5Bsource_branch%5D=kodama%2Ffix"
        "&merge_request%5Btarget_branch%5D=main"
    )


def test_title_and_body_defaults() -> None:
    title, body = title_and_body(
        "fix", "\nFix the flaky login test\nthen run it\n", ["a", "b"], None, None
    )
    assert title == "Fix the flaky login test"
    assert "> Fix the flaky login test\n> then run it" in body and "- a\n- b" in body
    assert title_and_body("fix", None, ["only commit"], None, None)[0] == "only commit"
    assert title_and_body("fix", None, [], None, None)[0] == "Work from Kodama session fix"
    long_title = title_and_body("fix", "x" * 100, [], None, None)[0]
    assert len(long_title) == 72 and long_title.endswith("…")
    assert title_and_body("fix", "p", [], "T", "B") == ("T", "B")
