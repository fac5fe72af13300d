"""Logins are rate-limited (django-axes): too many failures of one username from one
address lock that pair out, on the login page and on the token endpoint alike."""

from django.test import Client

from annotation.models import ApiToken


def _fail_logins(client: Client, n: int) -> None:
    for _ in range(n):
        response = client.post("/accounts/login/", {"username": "alice", "password": "nope"})
        assert response.status_code == 200  # the form again, with its error


def test_the_login_page_locks_a_username_after_repeated_failures(settings, alice, bob):
    settings.AXES_FAILURE_LIMIT = 3
    client = Client()
    _fail_logins(client, 2)
    locked = client.post("/accounts/login/", {"username": "alice", "password": "nope"})
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.content.decode()
    # Even the right password is refused while locked out...
    right = client.post("/accounts/login/", {"username": "alice", "password": "pw-alice"})
    assert right.status_code == 429 and "_auth_user_id" not in client.session
    # ...for alice only: bob, from the same address, logs in.
    other = client.post("/accounts/login/", {"username": "bob", "password": "pw-bob"})
    assert other.status_code == 302 and client.session["_auth_user_id"] == str(bob.pk)


def test_the_token_endpoint_is_limited_too_and_answers_json(settings, alice, client):
    settings.AXES_FAILURE_LIMIT = 3
    url = "/api/v1/auth/token/"
    for _ in range(2):
        assert client.post(url, {"username": "alice", "password": "x"}).status_code == 400
    locked = client.post(url, {"username": "alice", "password": "x"})
    assert locked.status_code == 429 and locked.json()["code"] == "locked_out"
    assert int(locked["Retry-After"]) > 0
    right = client.post(url, {"username": "alice", "password": "pw-alice"})
    assert right.status_code == 429
    assert ApiToken.objects.count() == 0
