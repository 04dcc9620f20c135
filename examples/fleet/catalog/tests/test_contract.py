"""The published contract (openapi.json) and the code must describe the same Product."""

import json
import pathlib
import unittest

from catalog.data import SEED_PRODUCTS

SPEC_PATH = pathlib.Path(__file__).resolve().parent.parent / "openapi.json"

# JSON Schema type -> the Python types json.dumps turns into it. bool is excluded on purpose:
# it is a subclass of int, but the JSON it produces is true/false, not a number.
JSON_TYPES = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


class ContractTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.spec = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
        cls.schema = cls.spec["components"]["schemas"]["Product"]

    def test_spec_version(self):
        self.assertEqual(self.spec["openapi"], "3.0.3")
        self.assertEqual(set(self.spec["paths"]), {"/products", "/products/{id}"})

    def test_required_fields_are_declared(self):
        self.assertLessEqual(set(self.schema["required"]), set(self.schema["properties"]))

    def test_emitted_fields_match_the_schema(self):
        declared = set(self.schema["properties"])
        for product in SEED_PRODUCTS:
            with self.subTest(product.id):
                emitted = set(product.to_dict())
                self.assertEqual(emitted - declared, set(), "emitted but not in openapi.json")
                self.assertEqual(declared - emitted, set(), "in openapi.json but never emitted")

    def test_emitted_values_have_the_declared_types(self):
        for product in SEED_PRODUCTS:
            for field, value in product.to_dict().items():
                expected = self.schema["properties"][field]["type"]
                with self.subTest(product=product.id, field=field, type=expected):
                    self.assertIsInstance(value, JSON_TYPES[expected])
                    if expected != "boolean":
                        self.assertNotIsInstance(value, bool)


if __name__ == "__main__":
    unittest.main()
