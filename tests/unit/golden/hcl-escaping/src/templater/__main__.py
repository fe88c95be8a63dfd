"""python -m templater."""
