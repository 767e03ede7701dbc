"""The accounts part of the GraphQL API."""
