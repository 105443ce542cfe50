/* placeholder until the master lands */
int main(void) { return 0; }
