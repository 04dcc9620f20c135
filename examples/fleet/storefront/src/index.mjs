export { CatalogError, fetchProducts, toProduct } from './catalogClient.mjs';
export { formatPrice, renderProductList } from './render.mjs';
