"""The receivables part of the GraphQL API."""
