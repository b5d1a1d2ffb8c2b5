"""The logic of the CloudEvent task functions (functions/dead_letter, cache_ops, scrape); their main.py stays thin."""
