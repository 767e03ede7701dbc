# Orbit: one image for the API, the workers and the one-shot migration.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
COPY workers ./workers
RUN pip install --no-cache-dir . \
    && useradd --create-home --uid 10001 orbit
USER orbit

EXPOSE 8000
CMD ["orbit", "serve", "--host", "0.0.0.0", "--port", "8000"]
