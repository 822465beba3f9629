@testable import CofferDashboard
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing

/// Issue 21: charts are SVG text with axes, labels and legends; tables escape what they show.
struct ChartTests {
    /// Whether `text` is well-formed XML.
    static func wellFormed(_ text: String) -> Bool {
        XMLParser(data: Data(text.utf8)).parse()
    }

    @Test("a bar chart has its title, y-axis ticks up to a round maximum, a bar per value, a legend of its series, and escapes labels")
    func bars() {
        let svg = SVGChart.bars(title: "Revenue <by> month", categories: ["2026-01", "<script>alert(1)</script>"],
                                series: [.init(name: "online", values: [120, 80]), .init(name: "in-store", values: [nil, 230])], yLabel: "revenue")
        #expect(Self.wellFormed(svg))
        #expect(svg.hasPrefix("<svg") && svg.contains("<title>Revenue &lt;by&gt; month</title>"))
        #expect(!svg.contains("<script>") && svg.contains("&lt;script&gt;"))
        #expect(svg.contains(">250</text>"), "the axis tops at 250, the nice maximum above 230")
        #expect(svg.components(separatedBy: "<rect").count - 1 == 3 + 2, "three bars (the withheld one is not drawn) and two legend keys")
        #expect(svg.contains(">online</text>") && svg.contains(">in-store</text>"))
        #expect(svg.contains("<title>2026-01 · online: 120</title>"))
    }

    @Test("a line breaks where a value is withheld; a heat map hatches withheld cells and shows its scale")
    func linesAndHeatMap() {
        let line = SVGChart.lines(title: "Consent", xLabels: ["a", "b", "c", "d"], series: [.init(name: "marketing", values: [0.5, nil, 0.4, 0.45])],
                                  yLabel: "share")
        #expect(Self.wellFormed(line))
        #expect(line.components(separatedBy: "<polyline").count - 1 == 1, "only c–d is a segment of two points")
        #expect(line.components(separatedBy: "<circle").count - 1 == 3)
        let heat = SVGChart.heatMap(title: "Hours", rows: ["Mon", "Tue"], columns: ["08", "09"], values: [[10, nil], [40, 20]], valueLabel: "purchases")
        #expect(Self.wellFormed(heat))
        #expect(heat.contains("fill=\"url(#withheld)\"") && heat.contains("Mon · 09: withheld (&lt; k)"))
        #expect(heat.contains(">40</text>") && heat.contains(">10</text>"), "the scale runs from the lowest to the highest value")
        #expect(SVGChart.niceMaximum(0) == 1 && SVGChart.niceMaximum(7) == 10 && SVGChart.niceMaximum(1234) == 2000)
    }

    @Test("a data table escapes HTML; its CSV quotes separators and defuses spreadsheet formulas")
    func tables() {
        let table = DataTable(columns: ["name", "value"], rows: [["<b>x</b>", "3"], ["=HYPERLINK(\"http://evil\")", "a,b"], ["-5", "+x"]])
        #expect(table.html(caption: "t").contains("&lt;b&gt;x&lt;/b&gt;") && table.html(caption: "t").contains("<td class=\"n\">3</td>"))
        #expect(table.csv == "name,value\r\n<b>x</b>,3\r\n\"'=HYPERLINK(\"\"http://evil\"\")\",\"a,b\"\r\n-5,'+x\r\n")
    }
}
