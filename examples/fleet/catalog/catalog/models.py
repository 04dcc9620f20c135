"""The Product record and its JSON form (the shape documented in openapi.json)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Product:
    id: str
    name: str
    price: float
    currency: str = "USD"

    def to_dict(self) -> dict:
        """Serialize for the wire. Every key here must be declared in openapi.json."""
        return {
            "id": self.id,
            "name": self.name,
            "price": self.price,
            "currency": self.currency,
        }
