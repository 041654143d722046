using System;
using System.Collections.Generic;

namespace Shop.Catalog
{
    /// <summary>
    /// Looks products up by their code.
    /// </summary>
    public interface ICatalog
    {
        Product Find(string code);
    }

    /// <summary>A catalog held in memory.</summary>
    public class MemoryCatalog : ICatalog
    {
        public const int MaxProducts = 1000;

        private readonly Dictionary<string, Product> products = new();

        // Add a product, replacing one with the same code.
        public void Add(Product product)
        {
            if (products.Count >= MaxProducts)
                throw new InvalidOperationException("catalog full");
            products[product.Code] = product;
        }

        /// <summary>Find a product or return null.</summary>
        public Product Find(string code)
        {
            return products.TryGetValue(Normalize(code), out var found) ? found : null;
        }

        private static string Normalize(string code) => code.Trim().ToUpperInvariant();
    }

    /// <summary>A thing for sale.</summary>
    public record Product(string Code, decimal Price);

    public struct Money
    {
        public decimal Amount;
    }
}
