// Package billing prices orders against the product catalog and produces invoices.
package billing

import (
	"encoding/json"
	"fmt"
	"io"
)

// Product is a catalog product as served by the catalog API (GET /products).
type Product struct {
	ID       string  `json:"id"`
	Name     string  `json:"name"`
	Price    float64 `json:"price"`
	Currency string  `json:"currency"`
}

// catalogResponse is the body of GET /products.
type catalogResponse struct {
	Products []Product `json:"products"`
}

// DecodeProducts reads a GET /products response body and checks every product.
func DecodeProducts(r io.Reader) ([]Product, error) {
	var body catalogResponse
	if err := json.NewDecoder(r).Decode(&body); err != nil {
		return nil, fmt.Errorf("decode catalog response: %w", err)
	}
	for i, p := range body.Products {
		if p.ID == "" {
			return nil, fmt.Errorf("product %d: missing id", i)
		}
		if p.Price <= 0 {
			return nil, fmt.Errorf("product %s: missing or non-positive price", p.ID)
		}
	}
	return body.Products, nil
}
