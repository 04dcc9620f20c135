"""Seed data: the catalog is small and fixed, so it lives in memory."""

from .models import Product

SEED_PRODUCTS = [
    Product(id="sku-1001", name="Ceramic Pour-Over Dripper", price=12.5),
    Product(id="sku-1002", name="Gooseneck Kettle", price=39.99),
    Product(id="sku-1003", name="Burr Coffee Grinder", price=89.0),
    Product(id="sku-1004", name="Paper Filters (100 pack)", price=4.75),
    Product(id="sku-1005", name="Glass Carafe 600 ml", price=24.95),
]
