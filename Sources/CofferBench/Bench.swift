public enum CofferBench {}
