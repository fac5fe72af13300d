"""API tokens: stored as hashes, revocable, converted from DRF's authtoken table."""

import hashlib

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from rest_framework.test import APIClient

from annotation.models import ApiToken
from annotation.services import api_token_create, api_token_revoke, api_tokens_revoke_all


def _client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_the_key_is_never_stored_only_its_hash(alice):
    token, key = api_token_create(user=alice, name="laptop")
    stored = ApiToken.objects.get(pk=token.pk)
    assert stored.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key not in {stored.key_hash, stored.name, stored.prefix}
    assert stored.prefix == key[:8]


def test_a_password_gives_a_working_token_shown_once(client, alice, campaign):
    response = client.post(
        "/api/v1/auth/token/", {"username": "alice", "password": "pw-alice", "name": "cli"}
    )
    assert response.status_code == 200
    key = response.json()["token"]
    assert not ApiToken.objects.filter(key_hash=key).exists()
    assert _client(key).get("/api/v1/campaigns/").status_code == 200


def test_a_wrong_password_gives_no_token(client, alice):
    response = client.post("/api/v1/auth/token/", {"username": "alice", "password": "nope"})
    assert response.status_code == 400
    assert ApiToken.objects.count() == 0


def test_a_revoked_token_is_refused_at_once_in_this_process(alice, campaign):
    token, key = api_token_create(user=alice)
    client = _client(key)
    assert client.get("/api/v1/campaigns/").status_code == 200  # now cached
    api_token_revoke(token=token)
    assert client.get("/api/v1/campaigns/").status_code == 401


def test_a_client_can_revoke_its_own_token_over_the_api(alice, campaign):
    token, key = api_token_create(user=alice)
    client = _client(key)
    assert client.delete("/api/v1/auth/token/").status_code == 204
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert client.get("/api/v1/campaigns/").status_code == 401


def test_revoking_all_of_a_users_tokens_leaves_others_working(alice, bob, campaign):
    _, alice_key = api_token_create(user=alice)
    _, alice_key2 = api_token_create(user=alice)
    _, bob_key = api_token_create(user=bob)
    assert api_tokens_revoke_all(user=alice) == 2
    assert _client(alice_key).get("/api/v1/campaigns/").status_code == 401
    assert _client(alice_key2).get("/api/v1/campaigns/").status_code == 401
    assert _client(bob_key).get("/api/v1/campaigns/").status_code == 200


def test_an_inactive_users_token_is_refused(alice, campaign):
    _, key = api_token_create(user=alice)
    alice.is_active = False
    alice.save(update_fields=["is_active"])
    assert _client(key).get("/api/v1/campaigns/").status_code == 401


@pytest.mark.django_db(transaction=True)
def test_the_migration_converts_authtoken_keys_to_hashes(django_user_model):
    """An install that used DRF's authtoken keeps its keys working, with no key left in clear."""
    executor = MigrationExecutor(connection)
    before = [("annotation", "0006_api_tokens_hashed")]
    executor.migrate(before)
    user = django_user_model.objects.create(username="old-client")
    old_key = "0123456789abcdef0123456789abcdef01234567"
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS authtoken_token "
            "(key varchar(40) PRIMARY KEY, created timestamp with time zone NOT NULL, "
            "user_id bigint NOT NULL)"
            if connection.vendor == "postgresql"
            else "CREATE TABLE IF NOT EXISTS authtoken_token "
            "(key varchar(40) PRIMARY KEY, created datetime NOT NULL, user_id bigint NOT NULL)"
        )
        cursor.execute(
            "INSERT INTO authtoken_token (key, created, user_id) VALUES (%s, %s, %s)",
            [old_key, "2025-01-02 03:04:05+00:00", user.pk],
        )
    try:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM authtoken_token")
            assert cursor.fetchone()[0] == 0
        converted = ApiToken.objects.get(user=user)
        assert converted.key_hash == hashlib.sha256(old_key.encode()).hexdigest()
        assert converted.created_at.year == 2025
        assert _client(old_key).get("/api/v1/campaigns/").status_code == 200
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE authtoken_token")
