"""What zgvoice learns about its users: encrypted profiles (contacts, facts, preferences) kept in
0G KV, and later the interaction events and patterns. Imports only `zerog_client` of our packages."""
