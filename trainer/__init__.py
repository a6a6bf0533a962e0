"""Offline trainers: each trains one model and exports it as a SavedModel under the export contract."""
