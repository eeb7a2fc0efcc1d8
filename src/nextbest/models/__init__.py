"""Predictive models: evaluation, gradient-boosted tabular classifiers, reports and drift."""
