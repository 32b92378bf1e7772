"""Username, email and password rules, and the normal forms used for uniqueness."""

from __future__ import annotations

import pytest

from veza.accounts import policy
from veza.errors import ValidationFailed


@pytest.mark.parametrize("name", ["abc", "A" * 32, "a_b.c-d", "Zoe", "0123"])
def test_valid_usernames(name: str) -> None:
    assert policy.check_username(name) == name


@pytest.mark.parametrize("name", ["ab", "a" * 33, "a b", "a@b", "zoë", "", "tab\tx", "a/b"])
def test_invalid_usernames(name: str) -> None:
    with pytest.raises(ValidationFailed):
        policy.check_username(name)


def test_username_and_email_keys_ignore_case_and_spacing() -> None:
    assert policy.username_key("Alice") == policy.username_key("aLICE") == "alice"
    assert policy.email_key(" Alice@Example.ORG ") == "alice@example.org"
    assert policy.check_email(" Alice@Example.ORG ") == "Alice@example.org"
    # Full-width characters fold to their ASCII forms before comparison.
    assert policy.email_key("\uff41lice@example.org") == "alice@example.org"


def test_login_key_tells_emails_from_usernames() -> None:
    assert policy.login_key("Bob") == ("username", "bob")
    assert policy.login_key("Bob@Example.org") == ("email", "bob@example.org")


@pytest.mark.parametrize(
    "email",
    ["plain", "@example.org", "a@", "a@b", "a b@example.org", "a@@b.org", "x" * 250 + "@e.org"],
)
def test_invalid_emails(email: str) -> None:
    with pytest.raises(ValidationFailed):
        policy.check_email(email)


@pytest.mark.parametrize(
    "password",
    ["eightch!", "x" * 1024, "all lower case words", "🎵" * 8, "12345678-not-common-xyz"],
)
def test_acceptable_passwords(password: str) -> None:
    assert policy.check_password(password) == password


@pytest.mark.parametrize(
    "password",
    ["seven77", "x" * 1025, "", "password", "Password1", "qwertyuiop", "iloveyou2024", "11111111"],
)
def test_refused_passwords(password: str) -> None:
    with pytest.raises(ValidationFailed):
        policy.check_password(password)


@pytest.mark.parametrize(
    "password", ["Frederick", "frederick2024!", "#1 Frederick", "fred@example.org", "Veza2025!!"]
)
def test_passwords_built_on_context_words_are_refused(password: str) -> None:
    with pytest.raises(ValidationFailed, match="username"):
        policy.check_password(password, context=("frederick", "fred@example.org", "fred"))


def test_context_words_inside_a_longer_password_are_fine() -> None:
    password = "frederick likes jazz"
    assert policy.check_password(password, context=("frederick",)) == password


def test_the_shipped_common_password_list_is_large_and_lower_case() -> None:
    common = policy.common_passwords()
    assert len(common) > 3000
    assert all(word == word.lower() for word in common)
    assert {"123456789", "password1", "qwerty123", "1q2w3e4r"} <= common
