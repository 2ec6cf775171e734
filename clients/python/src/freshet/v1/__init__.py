"""Stubs generated from api/proto/freshet/v1/feature_store.proto by
``bash clients/python/generate_stubs.sh``; do not edit."""
