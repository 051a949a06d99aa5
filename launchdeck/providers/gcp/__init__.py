"""Deploys to Google Cloud (Cloud Run and friends); every Google library is imported lazily inside."""
