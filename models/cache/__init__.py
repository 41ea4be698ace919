"""Model cache: trained models with model cards, matched on acquisition conditions."""
