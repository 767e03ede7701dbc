from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from orbit import config
from orbit.api.app import create_app
from orbit.db.models import Role
from orbit.services.access import Actor, create_user
from tests.support import TestDatabase, empty_database, open_test_database


@pytest.fixture(scope="session")
async def database() -> AsyncIterator[TestDatabase]:
    async for database in open_test_database():
        yield database


@pytest.fixture(autouse=True)
async def clean(database: TestDatabase) -> AsyncIterator[None]:
    await empty_database()
    yield


class Api:
    """A GraphQL client for one caller."""

    def __init__(self, client: httpx.AsyncClient, token: str | None) -> None:
        self.client = client
        self.token = token

    async def post(self, query: str, variables: dict[str, Any] | None = None,
                   token: str | None = None) -> dict[str, Any]:
        headers = {}
        bearer = token if token is not None else self.token
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = await self.post(query, variables)
        assert "errors" not in body, body["errors"]
        result: dict[str, Any] = body["data"]
        return result

    def as_(self, token: str) -> Api:
        return Api(self.client, token)


@pytest.fixture
async def app_client(database: TestDatabase) -> AsyncIterator[httpx.AsyncClient]:
    settings = config.Settings(database_url=database.url, env="test")
    app = create_app(settings, manage_database=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://orbit.test") as client:
            yield client


@pytest.fixture
async def admin(app_client: httpx.AsyncClient) -> Api:
    _, token = await create_user(Actor.system(), "admin@example.com", "Ada Admin", Role.ADMIN)
    return Api(app_client, token)


async def make_user(role: Role, email: str | None = None) -> tuple[int, str]:
    user, token = await create_user(Actor.system(), email or f"{role.value.lower()}@example.com",
                                    role.value.title(), role)
    return user.id, token
