// Client for the catalog service (see catalog's openapi.json).

export class CatalogError extends Error {
  constructor(message) {
    super(message);
    this.name = 'CatalogError';
  }
}

// GET {baseUrl}/products and return the products, checked and normalized.
export async function fetchProducts(baseUrl) {
  const url = new URL('products', baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  const response = await fetch(url, { headers: { accept: 'application/json' } });
  if (!response.ok) {
    throw new CatalogError(`GET ${url} failed: ${response.status} ${response.statusText}`);
  }
  const body = await response.json();
  if (body === null || typeof body !== 'object' || !Array.isArray(body.products)) {
    throw new CatalogError(`GET ${url}: expected an object with a "products" array`);
  }
  return body.products.map(toProduct);
}

// Turn one catalog product (wire format) into the storefront's shape.
export function toProduct(raw) {
  if (raw === null || typeof raw !== 'object' || typeof raw.id !== 'string') {
    throw new CatalogError(`malformed product: ${JSON.stringify(raw)}`);
  }
  if (typeof raw.price !== 'number' || !Number.isFinite(raw.price) || raw.price < 0) {
    throw new CatalogError(`product ${raw.id}: price must be a non-negative number`);
  }
  return {
    id: raw.id,
    name: String(raw.name ?? raw.id),
    price: raw.price,
    currency: raw.currency ?? 'USD',
  };
}
