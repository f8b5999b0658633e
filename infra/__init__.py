"""What runs around Sunshine: the real-service launchers (MinIO, Elasticsearch) and the platform
simulator (`infra.simulator`), a local server speaking each platform's API shapes for the demo and
the tests."""
