import { test } from 'node:test';
import assert from 'node:assert/strict';

import { formatPrice, renderProductList } from '../src/render.mjs';

test('formatPrice shows a currency symbol and two decimals', () => {
  assert.equal(formatPrice(12.5), '$12.50');
  assert.equal(formatPrice(39.99), '$39.99');
  assert.equal(formatPrice(4), '$4.00');
  assert.equal(formatPrice(0.05), '$0.05');
  assert.equal(formatPrice(7.1, 'EUR'), '€7.10');
  assert.equal(formatPrice(3, 'CHF'), 'CHF 3.00');
});

test('renderProductList aligns names and amounts', () => {
  const products = [
    { id: 'sku-1', name: 'Mug', price: 9.5, currency: 'USD' },
    { id: 'sku-2', name: 'Espresso Machine', price: 249, currency: 'USD' },
  ];
  assert.equal(renderProductList(products), 'Mug                 $9.50\nEspresso Machine  $249.00\n');
});

test('renderProductList handles an empty catalog', () => {
  assert.equal(renderProductList([]), 'No products available.\n');
});
