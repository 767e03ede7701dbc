"""The access part of the GraphQL API."""
