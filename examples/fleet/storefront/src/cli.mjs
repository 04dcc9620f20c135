// Usage: node src/cli.mjs [catalog base URL]   (default http://localhost:8080)
import { fetchProducts, renderProductList } from './index.mjs';

const baseUrl = process.argv[2] ?? process.env.CATALOG_URL ?? 'http://localhost:8080';
try {
  process.stdout.write(renderProductList(await fetchProducts(baseUrl)));
} catch (error) {
  console.error(`storefront: ${error.message}`);
  process.exitCode = 1;
}
