"""Builds a database in mcp-api's exact MongoDB format (collections, field names, BSON types,
ciphertexts), for the importer's tests. Values are encrypted the way mcp-api's Node code does:

    const key = createHash('sha256').update(SECRETS_KEY).digest()
    const iv = randomBytes(12)
    const cipher = createCipheriv('aes-256-gcm', key, iv)
    let enc = cipher.update(text, 'utf8', 'hex'); enc += cipher.final('hex')
    return `${iv.toString('hex')}:${cipher.getAuthTag().toString('hex')}:${enc}`
"""

from __future__ import annotations

import hashlib
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pymongo import MongoClient

FIXTURE_SERVER = str(Path(__file__).resolve().parents[1] / "fixtures" / "mcp_fixture_server.py")
SECRETS_KEY = "an mcp-api deployment passphrase, not 32+ chars necessarily"

# Every plaintext planted in the source database; none may ever be printed or logged.
CANARY = {
    "alice_token": "canary-alice-token-7f3a",
    "alice_api_key": "canary-alice-apikey-91bc",
    "bob_token": "canary-bob-token-42de",
    "bare": "canary-bare-key-0a0a",
    "ghost": "canary-ghost-server-1b1b",
    "corrupt": "canary-corrupt-value-2c2c",
    "access": "canary-access-token-3d3d",
    "refresh": "canary-refresh-token-4e4e",
    "client_secret": "canary-client-secret-5f5f",
    "install_secret": "canary-install-plaintext-6a6a",
    "dcr_secret": "canary-dcr-secret-7b7b",
}


def mcp_api_encrypt(passphrase: str, text: str) -> str:
    key = hashlib.sha256(passphrase.encode("utf-8")).digest()
    iv = os.urandom(12)
    sealed = AESGCM(key).encrypt(iv, text.encode("utf-8"), None)  # ciphertext || 16-byte tag
    return f"{iv.hex()}:{sealed[-16:].hex()}:{sealed[:-16].hex()}"


def corrupted(stored: str) -> str:
    """The same ciphertext with one data byte flipped (the tag no longer matches)."""
    iv, tag, data = stored.split(":")
    flipped = f"{int(data[:2], 16) ^ 0x01:02x}"
    return f"{iv}:{tag}:{flipped}{data[2:]}"


CREATED = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
EXPIRES = datetime(2027, 1, 1, 0, 0, 0, tzinfo=UTC)


def servers() -> list[dict[str, Any]]:
    """Documents of mcp-api's ``mcp`` collection (unset optional fields are BSON null)."""
    return [
        {
            "name": "fixture",
            "transportType": "stdio",
            "command": sys.executable,
            "args": [FIXTURE_SERVER],
            "env": {"FIXTURE_MODE": "plain"},
            "url": None,
            "headers": None,
            "sessionId": None,
            "secretNames": ["token", "api_key"],
            "startupTimeout": 20000,
            "reconnectionOptions": {
                "maxReconnectionDelay": 30000,
                "initialReconnectionDelay": 1000,
                "reconnectionDelayGrowFactor": 1.5,
                "maxRetries": 2,
            },
            "enabled": True,
            "status": "connected",
            "displayName": "Fixture",
            "description": "the test fixture server",
            "source": "platform",
            "authMode": "none",
            "oauthTemplate": None,
            "secretFields": [
                {
                    "name": "token",
                    "label": "Token",
                    "description": None,
                    "required": True,
                    "inputType": "password",
                }
            ],
            "homepageUrl": "https://example.org/fixture",
            "repositoryUrl": None,
            "licenseName": "MIT",
            "catalogProvider": None,
            "catalogId": None,
            "createdBy": "admin@example.org",
            "createdAt": CREATED,
            "updatedAt": CREATED,
            "toolsList": [{"name": "echo", "description": "Return the text unchanged."}],
        },
        {
            "name": "remote",
            "transportType": "streamable_http",
            "command": None,
            "args": [],
            "env": {},
            "url": "http://127.0.0.1:9/mcp",
            "headers": {"X-Team": "blue"},
            "sessionId": "shared-session-0001",
            "secretName": "legacy_key",  # the legacy single-name field
            "startupTimeout": None,
            "reconnectionOptions": None,
            "enabled": False,
            "createdAt": CREATED,
            "updatedAt": CREATED,
        },
        {
            "name": "oauthsrv",
            "transportType": "streamable_http",
            "url": "http://127.0.0.1:9/oauth-mcp",
            "enabled": False,
            "source": "external",
            "authMode": "oauth2",
            "oauthTemplate": {
                "authorizationServerIssuer": "https://as.example.org",
                "authorizationEndpoint": "https://as.example.org/authorize",
                "tokenEndpoint": "https://as.example.org/token",
                "resourceUri": "http://127.0.0.1:9/oauth-mcp",
                "codeChallengeMethodsSupported": ["S256"],
                "pkceRequired": True,
                "discoveryMode": "auto",
                "discoverySource": "prm",
                "registrationMode": "manual",
            },
            "createdAt": CREATED,
            "updatedAt": CREATED,
        },
        {"name": "bad/name", "transportType": "stdio", "command": "true", "args": []},
    ]


def build(uri: str, database: str, passphrase: str = SECRETS_KEY) -> None:
    enc = lambda text: mcp_api_encrypt(passphrase, text)  # noqa: E731
    client: MongoClient[dict[str, Any]]
    with MongoClient(uri, serverSelectionTimeoutMS=5000) as client:
        db = client[database]
        db["mcp"].insert_many(servers())
        db["secrets"].insert_many(
            [
                {"username": "alice", "key": "fixture.token", "value": enc(CANARY["alice_token"])},
                {
                    "username": "alice",
                    "key": "fixture.api_key",
                    "value": enc(CANARY["alice_api_key"]),
                },
                {"username": "bob", "key": "fixture.token", "value": enc(CANARY["bob_token"])},
                {"username": "alice", "key": "BARE_KEY", "value": enc(CANARY["bare"])},
                {"username": "alice", "key": "ghost.TOKEN", "value": enc(CANARY["ghost"])},
                {
                    "username": "alice",
                    "key": "fixture.extra",
                    "value": corrupted(enc(CANARY["corrupt"])),
                },
            ]
        )
        # src/services/oauthTokens.ts: each secret field encrypted on its own.
        db["mcpOAuthTokens"].insert_one(
            {
                "serverName": "oauthsrv",
                "username": "alice",
                "tokenType": "Bearer",
                "accessToken": enc(CANARY["access"]),
                "refreshToken": enc(CANARY["refresh"]),
                "expiresAt": EXPIRES,
                "scopes": ["read", "write"],
                "clientId": "client-123",
                "clientSecret": enc(CANARY["client_secret"]),
                "redirectUri": "https://app.example.org/callback",
                "codeVerifier": None,
                "tokenEndpointAuthMethod": "client_secret_post",
                "registrationMode": "manual",
                "createdAt": CREATED,
                "updatedAt": CREATED,
            }
        )
        db["mcpUserSessions"].insert_many(
            [
                {"serverName": "oauthsrv", "username": "alice", "sessionId": "alice-session-01"},
                {"serverName": "remote", "username": "bob", "sessionId": "bob-session-02"},
                {"serverName": "remote", "username": "carol", "sessionId": ""},
            ]
        )
        db["mcpUserServerInstalls"].insert_one(
            {
                "serverName": "oauthsrv",
                "username": "alice",
                "enabled": True,
                "authState": "connected",
                "oauthClientId": "client-123",
                "oauthClientSecret": CANARY["install_secret"],  # mcp-api keeps it in clear
                "oauthScopes": ["read"],
                "lastAuthError": None,
                "createdAt": CREATED,
                "updatedAt": CREATED,
            }
        )
        db["mcpDcrClients"].insert_one(
            {
                "issuer": "https://as.example.org",
                "publicApiOrigin": "https://api.example.org",
                "redirectUri": "https://app.example.org/callback",
                "clientName": "MissionSquad",
                "registrationEndpoint": "https://as.example.org/register",
                "tokenEndpointAuthMethod": "client_secret_post",
                "clientId": "dcr-client",
                "clientSecret": enc(CANARY["dcr_secret"]),
                "clientIdIssuedAt": 1767225600,
                "clientSecretExpiresAt": 0,
                "registrationAccessToken": None,
                "registrationClientUri": None,
                "grantTypes": ["authorization_code", "refresh_token"],
                "responseTypes": ["code"],
                "createdAt": CREATED,
                "updatedAt": CREATED,
            }
        )
        db["packages"].insert_one(
            {
                "name": "@example/fixture-mcp",
                "version": "latest",
                "installPath": "packages/fixture",
                "installed": CREATED,
                "lastUpgraded": None,
                "status": "installed",
                "runtime": "node",
                "mcpServerId": "fixture",
                "enabled": True,
                "venvPath": None,
                "pythonModule": None,
                "pythonArgs": None,
                "pipIndexUrl": None,
                "pipExtraIndexUrl": None,
            }
        )
        db["packages"].insert_one(
            {
                "name": "@example/broken-mcp",
                "version": "1.0.0",
                "installPath": "packages/example-broken-mcp",
                "installed": CREATED,
                "status": "error",
                "error": "npm ERR! 404",
            }
        )
        db["appState"].insert_one({"key": "installOnStart", "done": True})
