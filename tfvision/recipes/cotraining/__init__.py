"""Co-training recipe: rounds of fitting two view models and exchanging pseudo-labels."""
