"""The REST API (FastAPI, OpenAPI at /api/v1/openapi.json)."""

from market.api.app import create_app

__all__ = ["create_app"]
