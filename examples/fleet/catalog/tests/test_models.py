import json
import unittest

from catalog.data import SEED_PRODUCTS
from catalog.models import Product


class ProductSerializationTest(unittest.TestCase):
    def test_to_dict(self):
        product = Product(id="sku-9001", name="Travel Mug", price=18.25)
        self.assertEqual(
            product.to_dict(),
            {"id": "sku-9001", "name": "Travel Mug", "price": 18.25, "currency": "USD"},
        )

    def test_round_trips_through_json(self):
        product = Product(id="sku-9002", name="Cold Brew Bottle", price=7.0, currency="EUR")
        self.assertEqual(json.loads(json.dumps(product.to_dict())), product.to_dict())

    def test_seed_prices_are_dollar_amounts(self):
        for product in SEED_PRODUCTS:
            with self.subTest(product.id):
                value = product.to_dict()["price"]
                self.assertIs(type(value), float)
                self.assertGreater(value, 0)

    def test_seed_ids_are_unique(self):
        ids = [product.id for product in SEED_PRODUCTS]
        self.assertEqual(len(ids), len(set(ids)))


if __name__ == "__main__":
    unittest.main()
