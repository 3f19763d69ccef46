"""lomsong: find mobile dead zones and rank the tower sites that fix them."""
__version__ = "0.1.0"
