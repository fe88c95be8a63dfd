"""Templater."""
