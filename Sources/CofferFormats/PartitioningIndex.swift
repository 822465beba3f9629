extension RandomAccessCollection {
    /// The index of the first element for which `belongs` holds, in a collection
    /// where it holds for a suffix (everything from some point on): a binary search,
    /// `endIndex` when it holds for none. Sorted arrays find a value's place with it.
    ///
    /// Inlinable so that callers in other modules get it specialised for their collection:
    /// called unspecialised, a projection build's fold spent 8 % of its time here, most of it
    /// looking up generic metadata.
    @inlinable
    package func partitioningIndex(where belongs: (Element) throws -> Bool) rethrows -> Index {
        var low = startIndex, length = count
        while length > 0 {
            let half = length / 2
            let middle = index(low, offsetBy: half)
            if try belongs(self[middle]) {
                length = half
            } else {
                low = index(after: middle)
                length -= half + 1
            }
        }
        return low
    }
}
