"""Datasets and input pipelines shared by the trainers."""
