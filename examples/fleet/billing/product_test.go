package billing

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// loadCatalog decodes testdata/products.json, a recorded GET /products response.
func loadCatalog(t *testing.T) []Product {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "products.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	products, err := DecodeProducts(f)
	if err != nil {
		t.Fatalf("DecodeProducts(testdata/products.json): %v", err)
	}
	return products
}

func TestDecodeProducts(t *testing.T) {
	products := loadCatalog(t)
	if len(products) != 5 {
		t.Fatalf("got %d products, want 5", len(products))
	}
	want := Product{
		ID:       "sku-1001",
		Name:     "Ceramic Pour-Over Dripper",
		Price:    12.5,
		Currency: "USD",
	}
	if products[0] != want {
		t.Errorf("products[0] = %+v, want %+v", products[0], want)
	}
}

func TestDecodeProductsRejectsBadProducts(t *testing.T) {
	cases := map[string]string{
		"missing id":    `{"products":[{"name":"Mug","price":9.5}]}`,
		"missing price": `{"products":[{"id":"sku-1","name":"Mug"}]}`,
		"zero price":    `{"products":[{"id":"sku-1","name":"Mug","price":0}]}`,
		"not json":      `{"products":[`,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := DecodeProducts(strings.NewReader(body)); err == nil {
				t.Errorf("DecodeProducts(%s) succeeded, want an error", body)
			}
		})
	}
	_, err := DecodeProducts(strings.NewReader(cases["missing price"]))
	if err == nil || !strings.Contains(err.Error(), "missing or non-positive price") {
		t.Errorf("error = %v, want it to name the missing field", err)
	}
}
