"""The live local-model performance panel."""
