import Foundation

/// Charts drawn on the server as SVG text: axes with ticks, labels and a legend,
/// no script and nothing fetched, so a page shows them offline and a test can read
/// them. A nil value is a cell withheld under the minimum group size: no mark is drawn.
package enum SVGChart {
    /// One named row of values, one per category or x label.
    package struct Series: Sendable {
        package var name: String
        package var values: [Double?]

        package init(name: String, values: [Double?]) {
            self.name = name
            self.values = values
        }
    }

    static let width = 680.0, height = 300.0
    static let left = 64.0, right = 16.0, top = 28.0, bottom = 64.0
    /// Distinguishable on screen and in greyscale print (Okabe–Ito).
    static let palette = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#999933",
                          "#882255", "#44AA99", "#332288", "#AA4499", "#117733", "#88CCEE", "#DDCC77", "#661100"]

    /// Grouped vertical bars: one group per category, one bar per series.
    package static func bars(title: String, categories: [String], series: [Series], yLabel: String, xLabel: String = "") -> String {
        let maximum = niceMaximum(series.flatMap { $0.values.compactMap { $0 } }.max() ?? 0)
        var body = frame(title: title, yLabel: yLabel, xLabel: xLabel, maximum: maximum)
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        let group = plotWidth / Double(max(categories.count, 1))
        let barWidth = max(1, group * 0.8 / Double(max(series.count, 1)))
        let slanted = slants(categories)
        for (c, category) in categories.enumerated() {
            for (s, line) in series.enumerated() {
                guard c < line.values.count, let value = line.values[c] else { continue }
                let barHeight = maximum > 0 ? value / maximum * plotHeight : 0
                let x = left + Double(c) * group + group * 0.1 + Double(s) * barWidth
                body += "<rect x=\"\(f(x))\" y=\"\(f(top + plotHeight - barHeight))\" width=\"\(f(barWidth))\" height=\"\(f(barHeight))\" "
                    + "fill=\"\(palette[s % palette.count])\"><title>\(HTML.escape(category)) · \(HTML.escape(line.name)): \(number(value))</title></rect>"
            }
            body += categoryLabel(category, x: left + (Double(c) + 0.5) * group, slanted: slanted)
        }
        let keys = legend(series.map(\.name))
        return close(body + keys.svg, title: title, lowest: lowestBelowPlot(xLabel: xLabel, legendRows: keys.rows), slanted: slanted)
    }

    /// Estimates with their intervals (a dot and a whisker per category) around a zero line:
    /// uplifts, which may be negative.
    package static func intervals(title: String, categories: [String], estimates: [Double], lows: [Double], highs: [Double],
                                  yLabel: String) -> String {
        let all = estimates + lows + highs
        // Ticks a round step apart, zero among them.
        let highest = max(all.max() ?? 0, 0), lowest = min(all.min() ?? 0, 0)
        let tick = niceMaximum(max(highest - lowest, 1e-9) / 4)
        let top = (highest / tick).rounded(.up) * tick, bottom = (lowest / tick).rounded(.down) * tick
        let ticks = Int(((top - bottom) / tick).rounded())
        let plotWidth = width - left - right, plotHeight = height - Self.top - Self.bottom
        func y(_ value: Double) -> Double { Self.top + plotHeight * (top - value) / max(top - bottom, 1e-9) }
        var body = "<text x=\"\(f(width / 2))\" y=\"18\" class=\"t\" text-anchor=\"middle\">\(HTML.escape(title))</text>"
        body += "<line x1=\"\(f(left))\" y1=\"\(f(Self.top))\" x2=\"\(f(left))\" y2=\"\(f(Self.top + plotHeight))\" class=\"axis\"/>"
        for step in 0...ticks {
            let value = bottom + tick * Double(step)
            body += "<line x1=\"\(f(left - 4))\" y1=\"\(f(y(value)))\" x2=\"\(f(width - right))\" y2=\"\(f(y(value)))\" class=\"grid\"/>"
                + "<text x=\"\(f(left - 7))\" y=\"\(f(y(value) + 4))\" text-anchor=\"end\">\(number(value))</text>"
        }
        body += "<line x1=\"\(f(left))\" y1=\"\(f(y(0)))\" x2=\"\(f(width - right))\" y2=\"\(f(y(0)))\" class=\"axis\"/>"
        body += "<text transform=\"translate(14,\(f(Self.top + plotHeight / 2))) rotate(-90)\" text-anchor=\"middle\">\(HTML.escape(yLabel))</text>"
        let step = plotWidth / Double(max(categories.count, 1))
        let slanted = slants(categories)
        for (index, category) in categories.enumerated() where index < estimates.count {
            let x = left + (Double(index) + 0.5) * step
            let color = lows[index] > 0 ? palette[2] : highs[index] < 0 ? palette[5] : palette[0]
            body += "<line x1=\"\(f(x))\" y1=\"\(f(y(lows[index])))\" x2=\"\(f(x))\" y2=\"\(f(y(highs[index])))\" stroke=\"\(color)\" stroke-width=\"2\"/>"
                + "<line x1=\"\(f(x - 6))\" y1=\"\(f(y(lows[index])))\" x2=\"\(f(x + 6))\" y2=\"\(f(y(lows[index])))\" stroke=\"\(color)\" stroke-width=\"2\"/>"
                + "<line x1=\"\(f(x - 6))\" y1=\"\(f(y(highs[index])))\" x2=\"\(f(x + 6))\" y2=\"\(f(y(highs[index])))\" stroke=\"\(color)\" stroke-width=\"2\"/>"
                + "<circle cx=\"\(f(x))\" cy=\"\(f(y(estimates[index])))\" r=\"4\" fill=\"\(color)\"><title>\(HTML.escape(category)): "
                + "\(number(estimates[index])) (95 %: \(number(lows[index])) to \(number(highs[index])))</title></circle>"
            body += categoryLabel(category, x: x, slanted: slanted)
        }
        return close(body, title: title, lowest: height - bottom + 16, slanted: slanted)
    }

    /// Lines over ordered x labels (months, days), one per series, with a dot at each value.
    package static func lines(title: String, xLabels: [String], series: [Series], yLabel: String, xLabel: String = "") -> String {
        let maximum = niceMaximum(series.flatMap { $0.values.compactMap { $0 } }.max() ?? 0)
        var body = frame(title: title, yLabel: yLabel, xLabel: xLabel, maximum: maximum)
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        let step = plotWidth / Double(max(xLabels.count, 1))
        func point(_ index: Int, _ value: Double) -> (Double, Double) {
            (left + (Double(index) + 0.5) * step, top + plotHeight - (maximum > 0 ? value / maximum * plotHeight : 0))
        }
        for (s, line) in series.enumerated() {
            let color = palette[s % palette.count]
            // A withheld value breaks the line.
            var segments: [[(Double, Double)]] = [[]]
            for (index, value) in line.values.enumerated() {
                if let value { segments[segments.count - 1].append(point(index, value)) } else { segments.append([]) }
            }
            for segment in segments where segment.count > 1 {
                body += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\""
                    + segment.map { "\(f($0.0)),\(f($0.1))" }.joined(separator: " ") + "\"/>"
            }
            for (index, value) in line.values.enumerated() {
                guard let value else { continue }
                let (x, y) = point(index, value)
                body += "<circle cx=\"\(f(x))\" cy=\"\(f(y))\" r=\"3\" fill=\"\(color)\"><title>\(HTML.escape(xLabels[index])) · "
                    + "\(HTML.escape(line.name)): \(number(value))</title></circle>"
            }
        }
        let slanted = slants(xLabels)
        for (index, label) in xLabels.enumerated() {
            body += categoryLabel(label, x: left + (Double(index) + 0.5) * step, slanted: slanted)
        }
        let keys = legend(series.map(\.name))
        return close(body + keys.svg, title: title, lowest: lowestBelowPlot(xLabel: xLabel, legendRows: keys.rows), slanted: slanted)
    }

    /// A grid of cells shaded by value (rows × columns), with a scale; a withheld cell is hatched.
    package static func heatMap(title: String, rows: [String], columns: [String], values: [[Double?]], valueLabel: String) -> String {
        let all = values.flatMap { $0.compactMap { $0 } }
        let low = all.min() ?? 0, high = all.max() ?? 0
        let rowLabelWidth = 96.0, columnLabelHeight = 40.0
        let plotWidth = width - rowLabelWidth - right - 90, plotHeight = height - top - columnLabelHeight - 8
        let cellWidth = plotWidth / Double(max(columns.count, 1)), cellHeight = plotHeight / Double(max(rows.count, 1))
        var body = "<defs><pattern id=\"withheld\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\">"
            + "<path d=\"M0,6 L6,0\" stroke=\"#bbb\" stroke-width=\"1\"/></pattern></defs>"
        body += "<text x=\"\(f(width / 2))\" y=\"18\" class=\"t\" text-anchor=\"middle\">\(HTML.escape(title))</text>"
        for (r, row) in rows.enumerated() {
            let y = top + Double(r) * cellHeight
            body += "<text x=\"\(f(rowLabelWidth - 6))\" y=\"\(f(y + cellHeight / 2 + 4))\" text-anchor=\"end\">\(HTML.escape(row))</text>"
            for (c, column) in columns.enumerated() {
                let x = rowLabelWidth + Double(c) * cellWidth
                let value = r < values.count && c < values[r].count ? values[r][c] : nil
                let fill = value.map { shade(high > low ? ($0 - low) / (high - low) : 1) } ?? "url(#withheld)"
                body += "<rect x=\"\(f(x))\" y=\"\(f(y))\" width=\"\(f(cellWidth))\" height=\"\(f(cellHeight))\" fill=\"\(fill)\" stroke=\"#fff\">"
                    + "<title>\(HTML.escape(row)) · \(HTML.escape(column)): \(HTML.escape(value.map(number) ?? "withheld (< k)"))</title></rect>"
            }
        }
        let every = max(1, columns.count / 12)
        for (c, column) in columns.enumerated() where c % every == 0 {
            let x = rowLabelWidth + (Double(c) + 0.5) * cellWidth
            body += "<text x=\"\(f(x))\" y=\"\(f(top + plotHeight + 16))\" text-anchor=\"middle\">\(HTML.escape(column))</text>"
        }
        // The scale: five steps from the lowest to the highest value.
        let scaleX = width - right - 70
        body += "<text x=\"\(f(scaleX))\" y=\"\(f(top - 4))\">\(HTML.escape(valueLabel))</text>"
        for step in 0..<5 {
            let share = Double(4 - step) / 4, y = top + Double(step) * 22
            body += "<rect x=\"\(f(scaleX))\" y=\"\(f(y))\" width=\"16\" height=\"18\" fill=\"\(shade(share))\"/>"
                + "<text x=\"\(f(scaleX + 22))\" y=\"\(f(y + 13))\">\(number(low + (high - low) * share))</text>"
        }
        body += "<rect x=\"\(f(scaleX))\" y=\"\(f(top + 116))\" width=\"16\" height=\"18\" fill=\"url(#withheld)\" stroke=\"#bbb\"/>"
            + "<text x=\"\(f(scaleX + 22))\" y=\"\(f(top + 129))\">&lt; k</text>"
        return close(body, title: title, lowest: max(top + plotHeight + 16, top + 129), slanted: false)
    }

    // MARK: Parts

    static func frame(title: String, yLabel: String, xLabel: String, maximum: Double) -> String {
        let plotHeight = height - top - bottom
        var out = "<text x=\"\(f(width / 2))\" y=\"18\" class=\"t\" text-anchor=\"middle\">\(HTML.escape(title))</text>"
        out += "<line x1=\"\(f(left))\" y1=\"\(f(top))\" x2=\"\(f(left))\" y2=\"\(f(top + plotHeight))\" class=\"axis\"/>"
        out += "<line x1=\"\(f(left))\" y1=\"\(f(top + plotHeight))\" x2=\"\(f(width - right))\" y2=\"\(f(top + plotHeight))\" class=\"axis\"/>"
        for tick in 0...4 {
            let value = maximum * Double(tick) / 4, y = top + plotHeight - plotHeight * Double(tick) / 4
            out += "<line x1=\"\(f(left - 4))\" y1=\"\(f(y))\" x2=\"\(f(width - right))\" y2=\"\(f(y))\" class=\"grid\"/>"
            out += "<text x=\"\(f(left - 7))\" y=\"\(f(y + 4))\" text-anchor=\"end\">\(number(value))</text>"
        }
        out += "<text transform=\"translate(14,\(f(top + plotHeight / 2))) rotate(-90)\" text-anchor=\"middle\">\(HTML.escape(yLabel))</text>"
        if !xLabel.isEmpty {
            out += "<text x=\"\(f(left + (width - left - right) / 2))\" y=\"\(f(height - 6))\" text-anchor=\"middle\">\(HTML.escape(xLabel))</text>"
        }
        return out
    }

    /// Whether a chart's category labels are slanted: many or long ones would run into each other.
    static func slants(_ labels: [String]) -> Bool {
        labels.count > 12 || Double(labels.count * (labels.map(\.count).max() ?? 0)) * 6.2 > width - left - right
    }

    static func categoryLabel(_ label: String, x: Double, slanted: Bool) -> String {
        let y = height - bottom + 16
        if slanted {
            // Cut to what fits below the axis; the whole label is its tooltip (and in the table).
            let shown = label.count > 16 ? String(label.prefix(15)) + "…" : label
            return "<text x=\"\(f(x))\" y=\"\(f(y))\" text-anchor=\"end\" transform=\"rotate(-40 \(f(x)) \(f(y)))\">"
                + "<title>\(HTML.escape(label))</title>\(HTML.escape(shown))</text>"
        }
        return "<text x=\"\(f(x))\" y=\"\(f(y))\" text-anchor=\"middle\">\(HTML.escape(label))</text>"
    }

    /// The series' keys, in as many rows as they need below the chart (each row adds `legendRow` to its height).
    static func legend(_ names: [String]) -> (svg: String, rows: Int) {
        guard names.count > 1 else { return ("", 0) }
        var out = "", x = left, row = 0.0
        for (index, name) in names.enumerated() {
            let step = 24 + Double(name.count) * 6.5
            if x + step > width - right, x > left {
                x = left
                row += 1
            }
            let y = height - 18 + row * legendRow
            out += "<rect x=\"\(f(x))\" y=\"\(f(y))\" width=\"10\" height=\"10\" fill=\"\(palette[index % palette.count])\"/>"
                + "<text x=\"\(f(x + 14))\" y=\"\(f(y + 9))\">\(HTML.escape(name))</text>"
            x += step
        }
        return (out, Int(row) + 1)
    }

    static let legendRow = 15.0

    /// How far below the plot a bar or line chart draws: its category labels, its x-axis title and its legend's rows.
    static func lowestBelowPlot(xLabel: String, legendRows: Int) -> Double {
        max(height - bottom + 16, xLabel.isEmpty ? 0 : height - 6, legendRows > 0 ? height - 9 + Double(legendRows - 1) * legendRow : 0)
    }

    /// The picture: tall enough for the lowest line of text (`lowest`, its baseline), and for
    /// slanted labels, which reach about 60 below where they hang.
    static func close(_ body: String, title: String, lowest: Double, slanted: Bool) -> String {
        let total = max(height, lowest + 14) + (slanted ? 60 : 0)
        return "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(width)) \(Int(total))\" role=\"img\" aria-label=\"\(HTML.escape(title))\">"
            + "<title>\(HTML.escape(title))</title>" + body + "</svg>"
    }

    /// The smallest of 1, 2, 2.5, 5 × 10ⁿ at or above `value` (the top of the y axis).
    static func niceMaximum(_ value: Double) -> Double {
        guard value > 0, value.isFinite else { return 1 }
        let power = pow(10, floor(log10(value)))
        for step in [1.0, 2, 2.5, 5, 10] where step * power >= value { return step * power }
        return 10 * power
    }

    /// From pale to deep blue as `share` goes from 0 to 1.
    static func shade(_ share: Double) -> String {
        let s = min(max(share, 0), 1)
        let (r, g, b) = (Int(230 - 200 * s), Int(240 - 150 * s), Int(250 - 80 * s))
        return String(format: "#%02x%02x%02x", r, g, b)
    }

    static func f(_ value: Double) -> String { String(format: "%.1f", value) }

    /// A value as axes and tooltips show it: integers plain, others to 2 significant decimals.
    package static func number(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e12 { return String(Int(value)) }
        let text = abs(value) >= 100 ? String(format: "%.0f", value) : String(format: abs(value) >= 1 ? "%.2f" : "%.3f", value)
        // 12.50 → 12.5, 0.200 → 0.2
        guard text.contains(".") else { return text }
        let trimmed = text.reversed().drop { $0 == "0" }
        return String((trimmed.first == "." ? trimmed.dropFirst() : trimmed).reversed())
    }
}
