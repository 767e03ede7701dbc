"""Orbit's background workers (arq): invoice runs, holds, renewals, the sweeper."""
