"""Sandbox views: reads. Register URLs with sandbox.routing.route()."""

from __future__ import annotations
