"""The export contract (docs/export-contract.md), written once for every trainer.

Public API: `trainer.export.contract.export_saved_model` with `Signature` and `ModelInfo`
(from `trainer.export.spec`); `trainer.export.layout` for name and target checks before training.
"""
