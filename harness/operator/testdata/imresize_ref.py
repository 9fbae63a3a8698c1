# Reference for values_test.go: a direct NumPy transcription of the
# contributions() function of MATLAB imresize.m. Usage: imresize_ref.py n factor
# Transcription of MATLAB imresize.m contributions() (scale<1, antialiasing on)
import numpy as np
def cubic(x):
    a=np.abs(x); a2=a*a; a3=a2*a
    return (1.5*a3-2.5*a2+1)*(a<=1) + (-0.5*a3+2.5*a2-4*a+2)*((1<a)&(a<=2))
def contributions(in_len, out_len, scale, kw=4.0):
    h=lambda x: scale*cubic(scale*x); kw=kw/scale
    x=np.arange(1,out_len+1,dtype=float)
    u=x/scale+0.5*(1-1/scale)
    left=np.floor(u-kw/2)
    P=int(np.ceil(kw))+2
    ind=left[:,None]+np.arange(P)[None,:]
    w=h(u[:,None]-ind)
    w=w/w.sum(1,keepdims=True)
    aux=np.concatenate([np.arange(1,in_len+1),np.arange(in_len,0,-1)])
    ind=aux[(np.mod(ind-1,len(aux))).astype(int)]
    M=np.zeros((out_len,in_len))
    for i in range(out_len):
        for j in range(P):
            M[i,ind[i,j]-1]+=w[i,j]
    return M
import sys
n,f=int(sys.argv[1]),int(sys.argv[2])
M=contributions(n,n//f,1.0/f)
np.set_printoptions(precision=17)
for row in M:
    print("{"+", ".join(repr(float(v)) for v in row)+"},")
