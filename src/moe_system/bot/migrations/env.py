"""Alembic's entry point for this script folder (`moe_system.migrations.migrate` runs it)."""

from moe_system.migrations import run_env

run_env()
