import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';

import { CatalogError, fetchProducts, renderProductList, toProduct } from '../src/index.mjs';

const fixture = await readFile(new URL('./fixtures/products.json', import.meta.url));

// Start a stub catalog on a free loopback port that answers GET /products with the fixture.
async function withStubCatalog(fn) {
  const requests = [];
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    if (req.method === 'GET' && req.url === '/products') {
      res.writeHead(200, { 'content-type': 'application/json', connection: 'close' });
      res.end(fixture);
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json', connection: 'close' });
    res.end(JSON.stringify({ error: `no route for ${req.url}` }));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    return await fn(`http://127.0.0.1:${server.address().port}`, requests);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

test('fetchProducts reads the catalog and the list renders display prices', async () => {
  await withStubCatalog(async (baseUrl, requests) => {
    const products = await fetchProducts(baseUrl);
    assert.deepEqual(requests, ['GET /products']);
    assert.equal(products.length, 5);
    assert.deepEqual(products[0], {
      id: 'sku-1001',
      name: 'Ceramic Pour-Over Dripper',
      price: 12.5,
      currency: 'USD',
    });
    assert.equal(
      renderProductList(products),
      [
        'Ceramic Pour-Over Dripper  $12.50',
        'Gooseneck Kettle           $39.99',
        'Burr Coffee Grinder        $89.00',
        'Paper Filters (100 pack)    $4.75',
        'Glass Carafe 600 ml        $24.95',
        '',
      ].join('\n'),
    );
  });
});

test('fetchProducts reports HTTP errors', async () => {
  await withStubCatalog(async (baseUrl) => {
    await assert.rejects(fetchProducts(`${baseUrl}/v0/`), (error) => {
      assert.ok(error instanceof CatalogError);
      assert.match(error.message, /404/);
      return true;
    });
  });
});

test('toProduct rejects a product without a usable price', () => {
  assert.throws(() => toProduct({ id: 'sku-1', name: 'Mug' }), /price must be a non-negative number/);
  assert.throws(() => toProduct({ id: 'sku-1', name: 'Mug', price: '9.50' }), /price must be a non-negative number/);
});
