"""The contracts part of the GraphQL API."""
