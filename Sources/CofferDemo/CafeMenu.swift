import CofferFormats

/// What Coffer Café sells.
struct MenuItem: Sendable {
    var sku: String
    var name: String
    var category: String
    var price: Double

    static let coffees = [MenuItem(sku: "FW", name: "Flat White", category: "coffee", price: 3.4),
                          MenuItem(sku: "CA", name: "Cappuccino", category: "coffee", price: 3.2),
                          MenuItem(sku: "OL", name: "Oat Latte", category: "coffee", price: 3.8),
                          MenuItem(sku: "ES", name: "Espresso", category: "coffee", price: 2.2),
                          MenuItem(sku: "CL", name: "Chai Latte", category: "coffee", price: 3.6),
                          MenuItem(sku: "IA", name: "Iced Americano", category: "coffee", price: 3.3)]
    static let pastries = [MenuItem(sku: "CR", name: "Croissant", category: "pastries", price: 2.6),
                           MenuItem(sku: "CB", name: "Cinnamon Bun", category: "pastries", price: 3.0),
                           MenuItem(sku: "BB", name: "Banana Bread", category: "pastries", price: 3.1)]
    static let lunches = [MenuItem(sku: "AT", name: "Avocado Toast", category: "lunch", price: 7.9),
                          MenuItem(sku: "GB", name: "Granola Bowl", category: "lunch", price: 6.5),
                          MenuItem(sku: "SD", name: "Soup of the Day", category: "lunch", price: 5.9)]
    static let beans = [MenuItem(sku: "BH", name: "Beans 250g", category: "beans", price: 9.5),
                        MenuItem(sku: "BD", name: "Decaf Beans 250g", category: "beans", price: 9.9)]
    static let merchandise = [MenuItem(sku: "TB", name: "Tote Bag", category: "merchandise", price: 12.0),
                              MenuItem(sku: "KC", name: "Keep Cup", category: "merchandise", price: 15.0)]
}

/// One person's café habits: their usual drink, how often they add a pastry, a
/// lunch or beans, and when in the day they come. Baskets drawn from them
/// differ by person and by time of day (mornings are coffee and a pastry,
/// lunchtimes a lunch and a drink, afternoons coffee and cake).
struct CafeHabits {
    enum Daypart { case morning, lunch, afternoon }

    let drink: MenuItem
    let sweetTooth: Double
    let lunchLover: Double
    let takesBeansHome: Double
    let usual: Daypart

    init(using rng: inout SeededGenerator) {
        drink = MenuItem.coffees.randomElement(using: &rng)!
        sweetTooth = Double.random(in: 0.05...0.8, using: &rng)
        lunchLover = Double.random(in: 0..<1, using: &rng) < 0.35 ? Double.random(in: 0.3...0.9, using: &rng) : 0.05
        // Regular coffee drinkers of a milk drink take beans home more often.
        takesBeansHome = drink.sku == "ES" || drink.sku == "FW" ? Double.random(in: 0.02...0.25, using: &rng)
                                                                 : Double.random(in: 0...0.05, using: &rng)
        let roll = Double.random(in: 0..<1, using: &rng)
        usual = roll < 0.55 ? .morning : roll < 0.8 ? .lunch : .afternoon
    }

    /// One visit: the daypart's hour (shop time) and the basket's lines.
    func basket(using rng: inout SeededGenerator) -> (hour: Int, lines: [(item: MenuItem, quantity: Int)]) {
        // Mostly at their usual time, sometimes not.
        let part: Daypart = Double.random(in: 0..<1, using: &rng) < 0.75 ? usual : [.morning, .lunch, .afternoon].randomElement(using: &rng)!
        var lines: [(item: MenuItem, quantity: Int)] = []
        let company = Double.random(in: 0..<1, using: &rng) < 0.15 ? 2 : 1   // buying for a friend too
        let drink = Double.random(in: 0..<1, using: &rng) < 0.8 ? self.drink : MenuItem.coffees.randomElement(using: &rng)!
        let hour: Int
        switch part {
        case .morning:
            hour = Int.random(in: 7...10, using: &rng)
            lines.append((drink, company))
            if Double.random(in: 0..<1, using: &rng) < sweetTooth { lines.append((MenuItem.pastries[0], company)) }
        case .lunch:
            hour = Int.random(in: 12...13, using: &rng)
            if Double.random(in: 0..<1, using: &rng) < max(lunchLover, 0.5) { lines.append((MenuItem.lunches.randomElement(using: &rng)!, company)) }
            if lines.isEmpty || Double.random(in: 0..<1, using: &rng) < 0.6 { lines.append((drink, company)) }
        case .afternoon:
            hour = Int.random(in: 15...17, using: &rng)
            lines.append((drink, 1))
            if Double.random(in: 0..<1, using: &rng) < min(sweetTooth + 0.2, 1) {
                lines.append((MenuItem.pastries[1...].randomElement(using: &rng)!, 1))
            }
        }
        if Double.random(in: 0..<1, using: &rng) < takesBeansHome {
            lines.append((drink.sku == "CL" ? MenuItem.beans[1] : MenuItem.beans[0], 1))
        }
        if Double.random(in: 0..<1, using: &rng) < 0.015 { lines.append((MenuItem.merchandise.randomElement(using: &rng)!, 1)) }
        return (hour, lines)
    }
}
