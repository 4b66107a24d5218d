"""Ignus SLA service for Zoho Desk."""

from .app import create_app

__all__ = ["create_app"]
